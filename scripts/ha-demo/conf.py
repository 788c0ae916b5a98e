import sys, json
me, mode = sys.argv[1], sys.argv[2]
d = sys.argv[3]
pw = sys.argv[4] if len(sys.argv) > 4 else "secret"
role2 = "secondary" if mode == "load-balancing" else "standby"
conf = {"Dhcp4": {
  "interfaces-config": {"interfaces": ["eth0"]},
  "lease-database": {"type": "memfile", "name": f"{d}/leases-{me}.csv", "lfc-interval": 0},
  "valid-lifetime": 600,
  "control-socket": {"socket-type": "unix", "socket-name": f"{d}/ctrl-{me}.sock"},
  "subnet4": [{"id": 1, "subnet": "198.18.0.0/24", "pools": [{"pool": "198.18.0.100 - 198.18.0.200"}]}],
  "hooks-libraries": [
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so", "parameters": {"high-availability": [{
      "this-server-name": me, "mode": mode, "heartbeat-delay": 1000, "max-response-delay": 3000,
      "max-ack-delay": 1000, "max-unacked-clients": 0, "sync-page-limit": 2,
      "peers": [
        {"name": "server1", "url": "http://198.18.0.1:8001/", "role": "primary", "basic-auth-user": "ha", "basic-auth-password": pw if me=="server2" else "secret"},
        {"name": "server2", "url": "http://198.18.0.2:8001/", "role": role2, "basic-auth-user": "ha", "basic-auth-password": pw if me=="server1" else "secret"}
      ]}]}}
  ],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": f"{d}/log-{me}.txt"}], "severity": "INFO"}]
}}
print(json.dumps(conf, indent=1))
