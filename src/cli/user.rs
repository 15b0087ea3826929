//! `quire user add NAME --role technician|compliance|admin`, `quire user list`, and
//! `quire user password|role|remove NAME`: staff accounts for the web console. The password comes from stdin (`--password-stdin`, for
//! scripts) or is asked for twice on the terminal; only its argon2 hash is stored.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;

use super::actor;
use crate::config::LoadedConfig;
use crate::state;
use quire_domain::staff::Role;
use quire_service::users;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a staff user who can sign in to the console at /staff/.
    Add {
        /// The user's sign-in name.
        name: String,
        /// What the user may do in the console.
        #[arg(long)]
        role: Role,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List staff users and their roles.
    List,
    /// Set a new password (the user's open sessions end).
    Password {
        /// The user's sign-in name.
        name: String,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Give a user another role (the user's open sessions end).
    Role {
        /// The user's sign-in name.
        name: String,
        /// The new role.
        #[arg(long)]
        role: Role,
    },
    /// Remove a user; their sessions end, their past actions stay in the audit log.
    Remove {
        /// The user's sign-in name.
        name: String,
    },
}

pub fn run(cmd: UserCommand, config: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let db = state::open(config)?;
    match cmd {
        UserCommand::Add {
            name,
            role,
            password_stdin,
        } => {
            users::check_user_name(&name)?;
            let password = if password_stdin {
                read_line()?
            } else {
                prompt_twice()?
            };
            users::add(&*db, &name, role, &password, &actor())?;
            println!("added {name} ({})", role.as_str());
        }
        UserCommand::Password {
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                read_line()?
            } else {
                prompt_twice()?
            };
            users::set_password(&*db, &name, &password, &actor())?;
            println!("new password set for {name}; their sessions have ended");
        }
        UserCommand::Role { name, role } => {
            users::set_role(&*db, &name, role, &actor())?;
            println!("{name} is now {}; their sessions have ended", role.as_str());
        }
        UserCommand::Remove { name } => {
            users::remove(&*db, &name, &actor())?;
            println!("removed {name}");
        }
        UserCommand::List => {
            let zone = &config.config.institution.time_zone;
            let mut table = super::table::Table::new(&["USER", "ROLE", "ADDED"]);
            for u in db.users_list()? {
                table.row(vec![
                    u.name.clone(),
                    u.role.to_string(),
                    u.created_at.shown_second(zone),
                ]);
            }
            table.print();
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Asks on the terminal. Without a terminal-echo crate the typed password is visible, so this
/// says so; scripts and careful admins use `--password-stdin`.
fn prompt_twice() -> anyhow::Result<String> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "no terminal to ask for the password: use --password-stdin"
    );
    eprint!("Password (shown as typed; use --password-stdin to avoid): ");
    std::io::stderr().flush()?;
    let first = read_line()?;
    eprint!("Again: ");
    std::io::stderr().flush()?;
    anyhow::ensure!(read_line()? == first, "the two passwords differ");
    Ok(first)
}
