//! Man pages: koji-osbuild(1) and koji-osbuild-builder(8), each with one
//! page per subcommand, whatever subcommands the clap trees have
//! (koji-osbuild-image(1), koji-osbuild-builder-doctor(8), …), and the
//! hand-written builder.conf(5).
//!
//! clap_mangen renders the NAME, SYNOPSIS, DESCRIPTION, OPTIONS and
//! SUBCOMMANDS sections from the clap definitions; the sections clap knows
//! nothing about (FILES, ENVIRONMENT, EXIT STATUS, SIGNALS, SEE ALSO) are
//! written here.

use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

/// builder.conf(5), written by hand: it documents a file, not a command.
pub const BUILDER_CONF_5: &str = include_str!("../../../docs/man/builder.conf.5");
pub const BUILDER_CONF_5_NAME: &str = "builder.conf.5";

/// builder.conf(5) with the package version in its title line.
pub fn builder_conf_5() -> String {
    BUILDER_CONF_5.replace("@VERSION@", VERSION)
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A page to write: the clap command it is generated from and its section.
pub struct Page {
    pub command: Command,
    pub section: &'static str,
}

impl Page {
    pub fn file_name(&self) -> String {
        format!("{}.{}", display_name(&self.command), self.section)
    }
}

fn display_name(cmd: &Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// `koji-osbuild` built (so subcommands carry their display names, e.g.
/// `koji-osbuild-image`, and the global options), without clap's `help`
/// subcommand, which has no page of its own.
pub fn cli_command() -> Command {
    let mut cmd = koji_osbuild::args::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

pub fn builder_command() -> Command {
    let mut cmd = koji_osbuild_builder::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The visible subcommands of `cmd`, depth first, each with a page.
pub fn subcommands(cmd: &Command) -> Vec<Command> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.push(sub.clone());
        out.extend(subcommands(sub));
    }
    out
}

/// Every generated page (builder.conf(5) is not generated): each binary,
/// then its subcommands.
pub fn pages() -> Vec<Page> {
    let mut pages = Vec::new();
    for (command, section) in [(cli_command(), "1"), (builder_command(), "8")] {
        let subs = subcommands(&command);
        pages.push(Page { command, section });
        pages.extend(subs.into_iter().map(|command| Page { command, section }));
    }
    pages
}

/// The binary a page belongs to, by its section.
fn binary_of(section: &str) -> &'static str {
    match section {
        "8" => "koji-osbuild-builder",
        _ => "koji-osbuild",
    }
}

pub fn write_all(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let pages = pages();
    let names: Vec<String> = pages.iter().map(Page::file_name).collect();
    let mut written = Vec::new();
    for page in &pages {
        let roff = render(page, &names)?;
        written.push(crate::write_file(&dir.join(page.file_name()), &roff)?);
    }
    written.push(crate::write_file(
        &dir.join(BUILDER_CONF_5_NAME),
        builder_conf_5().as_bytes(),
    )?);
    Ok(written)
}

/// One page: clap_mangen's sections, then ours.
pub fn render(page: &Page, all_pages: &[String]) -> std::io::Result<Vec<u8>> {
    let cmd = &page.command;
    let manual = match page.section {
        "8" => "System Administration",
        _ => "User Commands",
    };
    let man = Man::new(cmd.clone())
        .section(page.section)
        .source(format!("koji-osbuild {VERSION}"))
        .manual(manual);
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    let daemon = display_name(cmd) == "koji-osbuild-builder";
    if daemon {
        // More DESCRIPTION: the daemon's about line says too little.
        builder_description().to_writer(&mut out)?;
    }
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out)?;
    }
    let mut roff = Roff::default();
    after_help(&mut roff, cmd);
    if daemon {
        builder_sections(&mut roff);
    } else if page.section == "8" {
        builder_tool_sections(&mut roff, cmd);
    } else {
        cli_sections(&mut roff, cmd);
    }
    see_also(&mut roff, &page.file_name(), page.section, all_pages);
    roff.to_writer(&mut out)?;
    Ok(out)
}

/// clap's after_help as EXAMPLES (when it is an example) or NOTES, with
/// the command lines as literal text (clap_mangen would call it EXTRA).
fn after_help(roff: &mut Roff, cmd: &Command) {
    let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) else {
        return;
    };
    let text = text.to_string();
    match text.strip_prefix("Example:") {
        Some(example) => {
            roff.control("SH", ["EXAMPLES"]);
            roff.control("PP", []);
            roff.control("nf", []);
            roff.control("RS", ["4"]);
            for line in example.trim().lines() {
                roff.text([roman(line.trim())]);
            }
            roff.control("RE", []);
            roff.control("fi", []);
        }
        None => {
            roff.control("SH", ["NOTES"]);
            for line in text.lines() {
                if line.trim().is_empty() {
                    roff.control("PP", []);
                } else {
                    roff.text([roman(line)]);
                }
            }
        }
    }
}

/// A `.TP` entry: the tag in bold, then the paragraph.
fn entry(roff: &mut Roff, tag: Vec<Inline>, text: &str) {
    roff.control("TP", []);
    roff.text(tag);
    roff.text([roman(text)]);
}

fn section(roff: &mut Roff, name: &str, paragraphs: &[&str]) {
    roff.control("SH", [name]);
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            roff.control("PP", []);
        }
        roff.text([roman(*p)]);
    }
}

/// FILES, ENVIRONMENT and EXIT STATUS of koji-osbuild and its subcommands.
fn cli_sections(roff: &mut Roff, cmd: &Command) {
    roff.control("SH", ["FILES"]);
    roff.text([roman(
        "The commands that talk to the Koji hub read the koji client configuration, \
         as the koji command does: the files below in this order, later ones winning \
         key by key, from the section named by --profile (default: koji). Options on \
         the command line override them.",
    )]);
    entry(
        roff,
        vec![bold("/etc/koji.conf.d/*.conf")],
        "System-wide configuration snippets, read first, in sorted order.",
    );
    entry(
        roff,
        vec![bold("/etc/koji.conf")],
        "The system-wide koji client configuration.",
    );
    entry(
        roff,
        vec![bold("~/.koji/config.d/*.conf")],
        "The user's configuration snippets, in sorted order; not read when --config is given.",
    );
    entry(
        roff,
        vec![bold("~/.koji/config")],
        "The user's configuration; not read when --config is given (that file is read instead).",
    );
    entry(
        roff,
        vec![
            bold("~/.koji/client.crt"),
            roman(", "),
            bold("~/.koji/serverca.crt"),
        ],
        "The client certificate and the hub's CA certificate when the configuration names \
         none and these files exist, as with koji.",
    );

    roff.control("SH", ["ENVIRONMENT"]);
    entry(roff, vec![bold("HOME")], "Where ~ and ~/.koji are.");
    entry(
        roff,
        vec![bold("RUST_LOG")],
        "Which log messages go to standard error when --verbose is not given \
         (tracing's EnvFilter syntax, e.g. debug); by default only the koji client's \
         warnings, such as retries.",
    );

    roff.control("SH", ["EXIT STATUS"]);
    // "koji-osbuild image", as typed.
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    roff.text([roman(format!(
        "{name} exits with 0 when the command succeeded, 1 when it failed (an error, \
         or a task it waited for that failed or was canceled) and 2 for a usage error."
    ))]);
}

/// More DESCRIPTION for koji-osbuild-builder(8).
fn builder_description() -> Roff {
    let mut roff = Roff::default();
    for p in [
        "koji-osbuild-builder runs as a Koji builder host: it logs in to the hub with the \
         host's credentials, takes the host's exclusive session, and runs the osbuildImage \
         and tagBuild tasks the hub assigns to it. For an osbuildImage task it submits a \
         compose to osbuild-composer, follows it, attaches the compose request and status, \
         logs and manifests to the task, and tags the resulting build into the target's \
         destination tag. One process follows up to capacity tasks at once.",
        "The configuration is builder.conf(5): the [composer], [composer:oauth] and [koji] \
         sections of the Python koji-osbuild, and a [builder] section with the host's \
         settings, which may also come from a kojid.conf (--kojid-config). Every bad \
         setting is reported as one line naming the file and key.",
        "Under systemd it runs as koji-osbuild-builder.service (Type=notify): it reports \
         readiness once it is logged in and holds the host's session, and feeds the \
         watchdog from its host loop.",
    ] {
        roff.control("PP", []);
        roff.text([roman(p)]);
    }
    roff
}

/// FILES, SIGNALS, ENVIRONMENT and EXIT STATUS of koji-osbuild-builder(8).
fn builder_sections(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    entry(
        roff,
        vec![bold("/usr/share/koji-osbuild/builder.conf")],
        "Defaults, read first when no --config is given (missing files are skipped).",
    );
    entry(
        roff,
        vec![bold("/etc/koji-osbuild/builder.conf")],
        "The host's configuration, read second; its keys win over the defaults. \
         See builder.conf(5).",
    );
    entry(
        roff,
        vec![bold("/etc/kojid/kojid.conf")],
        "An existing kojid configuration whose [kojid] section can supply the host \
         settings, when given with --kojid-config.",
    );
    entry(
        roff,
        vec![bold("/usr/lib/systemd/system/koji-osbuild-builder.service")],
        "The systemd unit; it runs the daemon as the koji-osbuild user.",
    );

    roff.control("SH", ["SIGNALS"]);
    entry(
        roff,
        vec![bold("SIGTERM"), roman(", "), bold("SIGINT")],
        "Stop: the running tasks are freed in the hub (another host, or this one after a \
         restart, takes them over and follows their composes), the session is logged out \
         and the daemon exits.",
    );
    entry(
        roff,
        vec![bold("SIGHUP")],
        "Reload: the configuration files are read again; if they are valid, the daemon \
         frees its tasks, logs out and executes itself again with the same arguments and \
         PID, and follows the tasks' composes again. A configuration that does not load \
         is logged and the one in use is kept.",
    );

    roff.control("SH", ["ENVIRONMENT"]);
    entry(
        roff,
        vec![bold("RUST_LOG")],
        "Which log messages go to standard error (tracing's EnvFilter syntax, e.g. debug \
         or info,koji=debug); default: info.",
    );
    entry(
        roff,
        vec![bold("NOTIFY_SOCKET"), roman(", "), bold("WATCHDOG_USEC")],
        "Set by systemd: where readiness and watchdog notifications go. Without them no \
         notification is sent.",
    );

    section(
        roff,
        "EXIT STATUS",
        &[
            "0 when the daemon was stopped by a signal or --check-config found the \
           configuration usable, 1 when it stopped on an error, and 2 when the \
           configuration cannot be used (the message names the file and key).",
        ],
    );
}

/// FILES and EXIT STATUS of the builder's subcommands (doctor, compose, …).
fn builder_tool_sections(roff: &mut Roff, cmd: &Command) {
    if cmd.get_name() == "run-task" {
        return run_task_sections(roff);
    }
    roff.control("SH", ["FILES"]);
    entry(
        roff,
        builder_conf_files(),
        "builder.conf(5), read as the daemon reads it. doctor reads these files unless \
         --config names others; the compose commands read no configuration file unless \
         --config names one, and no Koji configuration at all.",
    );
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    section(
        roff,
        "EXIT STATUS",
        &[&format!(
            "{name} exits with 0 when every check passed or the compose succeeded, 1 when a \
             check or the compose failed or an error stopped it, and 2 for a usage error."
        )],
    );
}

/// The builder.conf files every builder command reads by default.
fn builder_conf_files() -> Vec<Inline> {
    vec![
        bold("/usr/share/koji-osbuild/builder.conf"),
        roman(", "),
        bold("/etc/koji-osbuild/builder.conf"),
    ]
}

/// FILES and EXIT STATUS of `run-task`, which kojid's plugin runs.
fn run_task_sections(roff: &mut Roff) {
    roff.control("SH", ["FILES"]);
    entry(
        roff,
        vec![bold("/usr/lib/koji-builder-plugins/osbuild.py")],
        "The kojid plugin that runs this command for each osbuildImage task; enable it with \
         plugins = osbuild in kojid.conf.",
    );
    entry(
        roff,
        builder_conf_files(),
        "builder.conf(5), read as the daemon reads it; the plugin adds --kojid-config with \
         kojid's own kojid.conf, which gives the host keys [builder] does not set.",
    );
    section(
        roff,
        "EXIT STATUS",
        &[
            "0 when it printed the task's outcome (a result, a fault or stopped), 1 when it \
           could not read the session from --session-fd (then it printed nothing), and 2 for \
           a usage error.",
        ],
    );
}

/// SEE ALSO: the other pages of the project and koji's.
fn see_also(roff: &mut Roff, this: &str, section: &str, all_pages: &[String]) {
    let mut refs: Vec<(String, String)> = Vec::new();
    for page in all_pages {
        if page == this {
            continue;
        }
        // A binary's page lists its subcommands' pages; the others refer
        // to the binaries' pages only.
        let (name, sec) = page.rsplit_once('.').unwrap_or((page, "1"));
        let parent = binary_of(sec);
        if name != parent && this != format!("{parent}.{sec}") {
            continue;
        }
        refs.push((name.to_string(), sec.to_string()));
    }
    refs.push(("builder.conf".into(), "5".into()));
    if section == "8" {
        refs.push(("kojid".into(), "8".into()));
    }
    refs.push(("koji".into(), "1".into()));
    roff.control("SH", ["SEE ALSO"]);
    let mut line = Vec::new();
    for (i, (name, sec)) in refs.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(name.as_str()));
        line.push(roman(format!("({sec})")));
    }
    roff.text(line);
    roff.control("PP", []);
    roff.text([
        roman("The project: "),
        italic("https://github.com/osbuild/koji-osbuild"),
    ]);
}
