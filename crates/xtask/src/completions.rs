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
            if shell == Shell::Bash {
                script = fix_bash_case_names(&script, &name);
            }
            let path = dir.join(shell.to_string()).join(file_name(shell, &name));
            written.push(crate::write_file(&path, &script)?);
        }
    }
    Ok(written)
}

/// clap_complete's bash script (4.6) names the case arms of a subcommand's
/// options with the `-` of the binary's name written as `__subcmd__`
/// (`koji__subcmd__osbuild__subcmd__image)`) but sets `cmd` with it written
/// as `__` (`koji__osbuild__subcmd__image`), so for `koji-osbuild image --`
/// no arm matched and nothing was offered. Name the arms as `cmd` is set;
/// a script without the mismatch is left as it is.
fn fix_bash_case_names(script: &[u8], bin_name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = format!("{}__subcmd__", bin_name.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", bin_name.replace('-', "__"));
    if wrong == right {
        return script.to_vec();
    }
    text.replace(&format!("        {wrong}"), &format!("        {right}"))
        .into_bytes()
}
