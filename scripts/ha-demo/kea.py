import sys, json
# kea as server2 (secondary); wrend as server1 from conf.py
d='/tmp/hae2e'
me=sys.argv[1] if len(sys.argv)>1 else 'server2'
ip='198.18.0.2' if me=='server2' else '198.18.0.1'
kea={"Dhcp4": {
  "interfaces-config": {"interfaces": ["eth0"]},
  "lease-database": {"type": "memfile", "name": f"{d}/leases-{me}.csv", "lfc-interval": 0},
  "valid-lifetime": 600,
  "control-socket": {"socket-type": "unix", "socket-name": f"{d}/kea-{me}.sock"},
  "subnet4": [{"id": 1, "subnet": "198.18.0.0/24", "pools": [{"pool": "198.18.0.100 - 198.18.0.200"}]}],
  "hooks-libraries": [
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
    {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_ha.so", "parameters": {"high-availability": [{
      "this-server-name": me, "mode": "load-balancing", "heartbeat-delay": 1000, "max-response-delay": 3000,
      "max-ack-delay": 1000, "max-unacked-clients": 0, "sync-page-limit": 2,
      "peers": [
        {"name": "server1", "url": "http://198.18.0.1:8001/", "role": "primary", "basic-auth-user": "ha", "basic-auth-password": "secret"},
        {"name": "server2", "url": "http://198.18.0.2:8001/", "role": "secondary", "basic-auth-user": "ha", "basic-auth-password": "secret"}
      ]}]}}
  ],
  "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": f"{d}/log-{me}.txt"}], "severity": "INFO"}]
}}
ca={"Control-agent": {"http-host": ip, "http-port": 8001,
  "authentication": {"type": "basic", "realm": "kea-control-agent", "clients": [{"user": "ha", "password": "secret"}]},
  "control-sockets": {"dhcp4": {"socket-type": "unix", "socket-name": f"{d}/kea-{me}.sock"}},
  "loggers": [{"name": "kea-ctrl-agent", "output_options": [{"output": f"{d}/ca-{me}.txt"}], "severity": "INFO"}]}}
json.dump(kea, open(f'{d}/kea-{me}.json','w'), indent=1)
json.dump(ca, open(f'{d}/ca-{me}.json','w'), indent=1)
