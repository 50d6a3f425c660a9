//! `stowage ls` and `stowage stat`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use stowage::core::StorageUrl;

use crate::open::{StoreArgs, open};
use stowage::text::{human_size, list_line, meta_json, meta_lines};

#[derive(Debug, Args)]
pub struct LsArgs {
    /// s3://bucket/prefix, file:///dir, or a local directory.
    url: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct StatArgs {
    /// s3://bucket/key or a local file.
    url: String,
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn ls(args: LsArgs) -> Result<ExitCode> {
    let url = StorageUrl::parse(&args.url)?;
    let located = open(&url, &args.store, false, true).await?;
    let (store, mut prefix) = (located.store, located.prefix);
    // A local directory lists what is inside it, not its name-alikes (`demo2/` beside `demo/`).
    if url.local_path().is_some_and(|p| p.is_dir()) && !prefix.is_empty() {
        prefix.push('/');
    }
    let objects = store.list_all(&prefix).await?;
    if args.json {
        let list: Vec<_> = objects.iter().map(meta_json).collect();
        println!("{}", serde_json::Value::Array(list));
        return Ok(ExitCode::SUCCESS);
    }
    let total: u64 = objects.iter().map(|o| o.size).sum();
    for o in &objects {
        println!("{}", list_line(o));
    }
    println!("{} objects, {}", objects.len(), human_size(total));
    Ok(ExitCode::SUCCESS)
}

pub async fn stat(args: StatArgs) -> Result<ExitCode> {
    let url = StorageUrl::parse(&args.url)?;
    let located = open(&url, &args.store, false, true).await?;
    let meta = located.store.head(&located.prefix).await?;
    if args.json {
        println!("{}", meta_json(&meta));
        return Ok(ExitCode::SUCCESS);
    }
    println!("url:           {}", located.url);
    for line in meta_lines(&meta) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
