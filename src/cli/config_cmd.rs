//! `quire config check|show`.

use std::process::ExitCode;

use clap::Subcommand;

use crate::config::{LoadedConfig, Source};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Report every configuration error at once; exit non-zero if there is any.
    Check,
    /// Print the effective configuration (file, environment overrides, defaults) with secrets masked.
    Show,
}

pub fn run(cmd: ConfigCommand, source: &Source) -> anyhow::Result<ExitCode> {
    let loaded = match LoadedConfig::load(source) {
        Ok(l) => l,
        Err(errors) => {
            eprint!("{errors}");
            return Ok(ExitCode::from(2));
        }
    };
    match cmd {
        ConfigCommand::Check => println!("configuration {} is valid", loaded.source),
        ConfigCommand::Show => {
            println!("# effective configuration from {}", loaded.source);
            print!("{}", toml::to_string_pretty(&loaded.config)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
