//! bash, zsh and fish completions of both binaries, named as each shell
//! looks them up in its vendor directory:
//!
//! | shell | file | installed in |
//! |---|---|---|
//! | bash | `bash/NAME` | /usr/share/bash-completion/completions |
//! | zsh | `zsh/_NAME` | /usr/share/zsh/site-functions |
//! | fish | `fish/NAME.fish` | /usr/share/fish/vendor_completions.d |

use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};
use clap_complete::Shell;

/// The commands completions are written for.
pub fn commands() -> Vec<Command> {
    vec![
        koji_osbuild::args::Cli::command(),
        koji_osbuild_builder::Cli::command(),
    ]
}

/// The file name `shell` loads the completions of `name` from.
pub fn file_name(shell: Shell, name: &str) -> String {
    match shell {
        Shell::Zsh => format!("_{name}"),
        Shell::Fish => format!("{name}.fish"),
        _ => name.to_string(),
    }
}

pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

pub fn write_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for mut cmd in commands() {
        let name = cmd.get_name().to_string();
        for shell in SHELLS {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, &name, &mut script);
            let path = dir.join(shell.to_string()).join(file_name(shell, &name));
            written.push(crate::write_file(&path, &script)?);
        }
    }
    Ok(written)
}
