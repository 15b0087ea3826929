//! `quire stamp`: stamps one PDF from the command line with the cover sheet, notices, margin
//! stamp and hidden delivery id, using the `[stamp]` configuration. It exercises the watermark
//! crate until deliveries do this themselves; it records nothing in the database.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use quire_watermark::{Citation, DeliveryId, Institution, Recipient, Stamp, stamp_pdf};
use sha2::{Digest, Sha256};

use crate::config::LoadedConfig;

#[derive(Debug, clap::Args)]
pub struct StampArgs {
    /// The PDF to stamp.
    pub input: PathBuf,
    /// Where to write the stamped copy.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Request id, printed on the cover and every page.
    #[arg(long)]
    pub request: String,
    /// The reader the copy is for.
    #[arg(long)]
    pub recipient: String,
    /// The requesting library.
    #[arg(long, default_value = "")]
    pub library: String,
    /// Delivery id to hide in the copy (dlv_ and letters or digits). Default: a new one.
    #[arg(long)]
    pub delivery: Option<String>,
    /// Periodical or book title.
    #[arg(long, default_value = "")]
    pub title: String,
    /// Article or chapter title.
    #[arg(long, default_value = "")]
    pub article: String,
    /// Author(s) of the citation.
    #[arg(long, default_value = "")]
    pub author: String,
    /// Publication year of the citation.
    #[arg(long, default_value = "")]
    pub year: String,
    /// Volume of the citation.
    #[arg(long, default_value = "")]
    pub volume: String,
    /// Issue of the citation.
    #[arg(long, default_value = "")]
    pub issue: String,
    /// Page range of the citation, e.g. 113-127.
    #[arg(long, default_value = "")]
    pub pages: String,
    /// Delivery date as printed. Default: today (UTC), YYYY-MM-DD.
    #[arg(long)]
    pub date: Option<String>,
    /// When the download link expires, as printed.
    #[arg(long)]
    pub expires: Option<String>,
    /// Copyright basis of the copy, e.g. "17 U.S.C. §108(d)".
    #[arg(long)]
    pub basis: Option<String>,
    /// Add the diagonal watermark even if `[stamp.watermark] enabled` is false.
    #[arg(long)]
    pub watermark: bool,
}

pub fn run(args: StampArgs, loaded: &LoadedConfig) -> anyhow::Result<ExitCode> {
    let config = &loaded.config;
    let input = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let delivery = match &args.delivery {
        Some(id) => DeliveryId::new(id)?,
        None => new_delivery_id(&input),
    };
    let stamp_config = &config.stamp;
    let mut watermark = stamp_config.diagonal()?;
    if args.watermark && watermark.is_none() {
        let mut forced = stamp_config.clone();
        forced.watermark.enabled = true;
        watermark = forced.diagonal()?;
    }
    let stamp = Stamp {
        institution: Institution {
            name: config.institution.name.clone(),
            contact: config.institution.contact.clone(),
        },
        request_id: args.request,
        citation: Citation {
            title: args.title,
            article: args.article,
            author: args.author,
            year: args.year,
            volume: args.volume,
            issue: args.issue,
            pages: args.pages,
        },
        recipient: Recipient {
            name: args.recipient,
            library: args.library,
        },
        delivered_on: args.date.unwrap_or_else(today),
        link_expires: args.expires,
        copyright_basis: args.basis,
        delivery_id: delivery.clone(),
        texts: stamp_config.texts()?,
        fonts: stamp_config.fonts(),
        watermark,
    };
    let stamped = stamp_pdf(&input, &stamp).map_err(|e| {
        anyhow::anyhow!("cannot stamp {}: {e} [{}]", args.input.display(), e.code())
    })?;
    write_atomically(&args.output, &stamped)?;
    println!("delivery: {delivery}");
    println!("sha256: {}", hex::encode(Sha256::digest(&stamped)));
    println!("output: {}", args.output.display());
    Ok(ExitCode::SUCCESS)
}

fn today() -> String {
    let date = time::OffsetDateTime::now_utc().date();
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// A ULID-shaped id (48-bit millisecond time, then 80 bits derived from the input and the clock),
/// for stand-alone use of this command; deliveries get theirs from the database.
fn new_delivery_id(input: &[u8]) -> DeliveryId {
    const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(input);
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    let digest = h.finalize();
    let mut value: u128 = (now.as_millis() & ((1 << 48) - 1)) << 80;
    for (i, b) in digest[..10].iter().enumerate() {
        value |= u128::from(*b) << (72 - 8 * i);
    }
    let chars: String = (0..26)
        .rev()
        .map(|i| CROCKFORD[((value >> (5 * i)) & 31) as usize] as char)
        .collect();
    DeliveryId::new(&format!("{}{chars}", DeliveryId::PREFIX))
        .expect("generated id has the right shape")
}

fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("pdf.part");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .with_context(|| format!("cannot move {} to {}", tmp.display(), path.display()))
}
