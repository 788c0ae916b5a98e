import json,sys
for f in sys.argv[1:]:
    c=json.load(open(f))
    c["Dhcp4"]["subnet4"][0]["pools"]=[{"pool":"198.18.0.100 - 198.18.0.149","client-class":"HA_server1"},{"pool":"198.18.0.150 - 198.18.0.199","client-class":"HA_server2"}]
    c["Dhcp4"]["hooks-libraries"][1]["parameters"]["high-availability"][0]["mode"]="load-balancing"
    c["Dhcp4"]["hooks-libraries"][1]["parameters"]["high-availability"][0]["peers"][1]["role"]="secondary"
    json.dump(c,open(f,'w'),indent=1)
