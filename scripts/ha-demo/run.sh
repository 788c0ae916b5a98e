#!/bin/bash
# run.sh T : start both servers in namespaces of tag T
cd /tmp/hae2e
T=$1
export KEA_PIDFILE_DIR=/tmp/hae2e KEA_LOCKFILE_DIR=/tmp/hae2e
ip netns exec has1$T /work/wt/hadaemon/target/debug/wrend -c s1.json > out1.txt 2>&1 & echo $! > pid1
ip netns exec has2$T /work/wt/hadaemon/target/debug/wrend -c s2.json > out2.txt 2>&1 & echo $! > pid2
