#!/bin/bash
cd /tmp/hae2e
for p in pid1 pid2; do [ -f $p ] && kill $(cat $p) 2>/dev/null; rm -f $p; done
sleep 0.5
