//! Kea hook libraries wren implements natively. Kea loads `hooks-libraries` entries as
//! shared objects; wren loads none and instead recognises the libraries whose features it
//! has built in by their file name (the last path component, so any install directory —
//! Debian's `/usr/lib/x86_64-linux-gnu/kea/hooks/`, FreeBSD's `/usr/local/lib/kea/hooks/` —
//! works). Any other library is an error naming it: silently ignoring a hook (a RADIUS
//! check, a lease-query responder, a flex-id) would serve clients differently than the
//! operator configured (issue 5, "an unknown hook library is a clear error").

/// A Kea hook library whose features wren has built in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuiltinHook {
    /// `libdhcp_lease_cmds.so`: the `lease4-*` commands (free in Kea 2.2).
    LeaseCmds,
    /// `libdhcp_stat_cmds.so`: `stat-lease4-get` (free in Kea 2.2).
    StatCmds,
    /// `libdhcp_subnet_cmds.so`: the `subnet4-*` commands (paid in Kea 2.2).
    SubnetCmds,
    /// `libdhcp_host_cmds.so`: the `reservation-*` commands (paid in Kea 2.2).
    HostCmds,
    /// `libdhcp_ha.so`: high availability (its `parameters` are the HA configuration).
    HighAvailability,
}

impl BuiltinHook {
    /// Every built-in hook, with its library file name.
    pub const ALL: [(BuiltinHook, &'static str); 5] = [
        (BuiltinHook::LeaseCmds, "libdhcp_lease_cmds.so"),
        (BuiltinHook::StatCmds, "libdhcp_stat_cmds.so"),
        (BuiltinHook::SubnetCmds, "libdhcp_subnet_cmds.so"),
        (BuiltinHook::HostCmds, "libdhcp_host_cmds.so"),
        (BuiltinHook::HighAvailability, "libdhcp_ha.so"),
    ];

    /// The built-in hook a `library` path names, by its file name; `None` for any other.
    pub fn from_library(path: &str) -> Option<BuiltinHook> {
        let file = file_name(path);
        Self::ALL
            .iter()
            .find(|(_, name)| *name == file)
            .map(|(hook, _)| *hook)
    }

    /// The library file name (`libdhcp_ha.so`).
    pub fn file_name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(hook, _)| *hook == self)
            .map_or("", |(_, name)| name)
    }
}

/// The last path component of `path` (`/` separated; the whole text when it has none).
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognised_by_file_name_in_any_directory() {
        for (dir, hook, name) in [
            (
                "/usr/lib/x86_64-linux-gnu/kea/hooks/",
                BuiltinHook::LeaseCmds,
                "libdhcp_lease_cmds.so",
            ),
            (
                "/usr/local/lib/kea/hooks/",
                BuiltinHook::StatCmds,
                "libdhcp_stat_cmds.so",
            ),
            (
                "/opt/kea/lib/",
                BuiltinHook::SubnetCmds,
                "libdhcp_subnet_cmds.so",
            ),
            ("", BuiltinHook::HostCmds, "libdhcp_host_cmds.so"),
            ("hooks/", BuiltinHook::HighAvailability, "libdhcp_ha.so"),
        ] {
            let path = [dir, name].concat();
            assert_eq!(BuiltinHook::from_library(&path), Some(hook), "{path}");
            assert_eq!(hook.file_name(), name);
        }
    }

    #[test]
    fn other_libraries_and_near_misses_are_unknown() {
        for path in [
            "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_flex_option.so",
            "/usr/local/lib/kea/hooks/libdhcp_radius.so",
            "/opt/lib/security.so",
            "/usr/lib/libdhcp_ha.so.1",
            "/usr/lib/libdhcp_ha.so/",
            "/usr/lib/LIBDHCP_HA.SO",
            "libdhcp_lease_cmds",
            "/libdhcp_ha.so/x.so",
            "",
        ] {
            assert_eq!(BuiltinHook::from_library(path), None, "{path}");
        }
    }
}
