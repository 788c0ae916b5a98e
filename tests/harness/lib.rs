//! Test harness: network namespaces, wrend and real DHCP clients (PLACEHOLDER: being written).
