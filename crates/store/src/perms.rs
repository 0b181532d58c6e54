//! Owner-only permissions: the ledger is confidential business data (suppliers, masses,
//! customers), so its directories are 0700 and its files 0600, like the key files.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use crate::StoreError;

/// Creates `dir` (and missing parents) with mode 0700; an existing `dir` is tightened to 0700.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Tightens everything under `dir` (a data directory written by an older build, or with a lax
/// umask): directories to 0700, files to 0600. Symbolic links are left alone.
pub fn tighten_tree(dir: &Path) -> Result<(), StoreError> {
    let meta = std::fs::symlink_metadata(dir)?;
    if meta.is_dir() {
        if meta.permissions().mode() & 0o777 != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        for e in std::fs::read_dir(dir)? {
            tighten_tree(&e?.path())?;
        }
    } else if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
        let mode = meta.permissions().mode() & 0o700;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lax_tree_is_tightened_to_owner_only() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("data");
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/f"), b"x").unwrap();
        std::fs::set_permissions(d.join("sub/f"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(d.join("sub"), std::fs::Permissions::from_mode(0o755)).unwrap();
        tighten_tree(&d).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&d.join("sub")), 0o700);
        assert_eq!(mode(&d.join("sub/f")), 0o600);
        create_private_dir(&t.path().join("new/deep")).unwrap();
        assert_eq!(mode(&t.path().join("new/deep")), 0o700);
    }
}
