//! ListObjectsV2 over many keys through the real binary and aws-sdk-s3:
//! order (UTF-8 bytes), pagination with continuation tokens through keys
//! and common prefixes, prefixes, delimiters and start-after, the key index
//! following deletes and overwrites, and the same answers after a restart
//! (the index rebuilt from the objects on disk).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "tests fail loudly on broken fixtures"
)]

use std::collections::BTreeSet;

use anyhow::Result;
use aws_sdk_s3::primitives::ByteStream;
use mayfly_e2e::{Server, ServerOptions};

const KEYS: usize = 2500;

/// 2,500 keys: three levels of "directories", multi-byte characters (whose
/// UTF-8 bytes sort after ASCII), folder markers ending in `/`, and a few
/// top-level keys.
fn keys() -> Vec<String> {
    let dirs = ["a", "b", "c", "d", "ü", "日本"];
    let subs = ["x", "y", "z", "é"];
    let mut keys = BTreeSet::new();
    for top in ["top-1", "top-2", "zz", "b"] {
        keys.insert(top.to_owned());
    }
    for dir in dirs {
        keys.insert(format!("{dir}/"));
    }
    let mut i = 0usize;
    while keys.len() < KEYS {
        let dir = dirs[i % dirs.len()];
        let sub = subs[(i / dirs.len()) % subs.len()];
        keys.insert(format!("{dir}/{sub}/obj-{i:04}"));
        i += 1;
    }
    // BTreeSet<String> iterates in byte order, which is S3's order.
    keys.into_iter().collect()
}

/// One ListObjectsV2 request's answer, reduced to what the tests compare.
#[derive(Debug, Default, PartialEq)]
struct Page {
    keys: Vec<String>,
    prefixes: Vec<String>,
    truncated: bool,
    token: Option<String>,
}

async fn list(
    s3: &aws_sdk_s3::Client,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    start_after: Option<&str>,
    max_keys: Option<i32>,
    token: Option<String>,
) -> Result<Page> {
    let out = s3
        .list_objects_v2()
        .bucket("many")
        .set_prefix(prefix.map(str::to_owned))
        .set_delimiter(delimiter.map(str::to_owned))
        .set_start_after(start_after.map(str::to_owned))
        .set_max_keys(max_keys)
        .set_continuation_token(token)
        .send()
        .await?;
    let page = Page {
        keys: out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect(),
        prefixes: out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(str::to_owned))
            .collect(),
        truncated: out.is_truncated() == Some(true),
        token: out.next_continuation_token().map(str::to_owned),
    };
    assert_eq!(
        out.key_count(),
        Some(i32::try_from(page.keys.len() + page.prefixes.len()).unwrap())
    );
    Ok(page)
}

/// Every page of a listing: (keys, common prefixes, number of pages).
async fn list_all(
    s3: &aws_sdk_s3::Client,
    prefix: Option<&str>,
    delimiter: Option<&str>,
    max_keys: Option<i32>,
) -> Result<(Vec<String>, Vec<String>, usize)> {
    let (mut keys, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut token = None;
    loop {
        let page = list(s3, prefix, delimiter, None, max_keys, token.take()).await?;
        pages += 1;
        assert!(pages <= KEYS + 1, "pagination does not end");
        keys.extend(page.keys);
        prefixes.extend(page.prefixes);
        if !page.truncated {
            assert_eq!(page.token, None);
            break;
        }
        token = Some(
            page.token
                .expect("a truncated page has a continuation token"),
        );
    }
    Ok((keys, prefixes, pages))
}

/// The listing rules stated over the sorted key list.
fn expected(all: &[String], prefix: &str, delimiter: Option<&str>) -> (Vec<String>, Vec<String>) {
    let mut keys = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    for key in all.iter().filter(|k| k.starts_with(prefix)) {
        let rest = &key[prefix.len()..];
        match delimiter.and_then(|d| rest.find(d).map(|at| &key[..prefix.len() + at + d.len()])) {
            Some(common) => {
                if prefixes.last().map(String::as_str) != Some(common) {
                    prefixes.push(common.to_owned());
                }
            }
            None => keys.push(key.clone()),
        }
    }
    (keys, prefixes)
}

async fn check_listings(s3: &aws_sdk_s3::Client, all: &[String]) -> Result<()> {
    // Everything, 1,000 per page (the default).
    let (keys, prefixes, pages) = list_all(s3, None, None, None).await?;
    assert_eq!(keys, all);
    assert!(prefixes.is_empty());
    assert_eq!(pages, all.len().div_ceil(1000));

    // Small pages, with and without a prefix, with and without a delimiter.
    for (prefix, delimiter, max_keys) in [
        ("b/", None, 7),
        ("", Some("/"), 3),
        ("ü/", Some("/"), 2),
        // The first page ends on the key `ü/`, which ends with the
        // delimiter: the next page must go on with the keys under it.
        ("ü/", Some("/"), 1),
        ("日本/é/", Some("/"), 100),
        ("c/y", Some("/"), 1),
        ("a/x/obj-0", None, 33),
        ("nothing-here/", Some("/"), 5),
    ] {
        let (keys, prefixes, _) = list_all(s3, Some(prefix), delimiter, Some(max_keys)).await?;
        let (want_keys, want_prefixes) = expected(all, prefix, delimiter);
        assert_eq!(keys, want_keys, "{prefix:?} {delimiter:?} {max_keys}");
        assert_eq!(
            prefixes, want_prefixes,
            "{prefix:?} {delimiter:?} {max_keys}"
        );
    }

    // The top level rolls up into one common prefix per directory.
    let root = list(s3, None, Some("/"), None, None, None).await?;
    assert_eq!(root.prefixes, ["a/", "b/", "c/", "d/", "ü/", "日本/"]);
    assert_eq!((root.keys, root.prefixes), expected(all, "", Some("/")));

    // start-after: strictly after, wherever it falls.
    let after = list(s3, Some("d/"), None, Some("d/y/"), Some(3), None).await?;
    let want: Vec<String> = all
        .iter()
        .filter(|k| k.starts_with("d/") && k.as_bytes() > b"d/y/".as_slice())
        .take(3)
        .cloned()
        .collect();
    assert_eq!(after.keys, want);
    assert!(after.truncated);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_2500_keys_pages_in_order_and_survives_a_restart() -> Result<()> {
    let data = tempfile::tempdir()?;
    let options = ServerOptions {
        data_dir: Some(data.path().join("data")),
        ..ServerOptions::default()
    };
    let server = Server::start_with(options.clone())?;
    let s3 = server.s3(server.root());
    s3.create_bucket().bucket("many").send().await?;
    let mut all = keys();

    // Upload from 16 tasks at once; each body is its key.
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in all.chunks(all.len().div_ceil(16)) {
        let s3 = s3.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for key in chunk {
                s3.put_object()
                    .bucket("many")
                    .key(&key)
                    .body(ByteStream::from(key.clone().into_bytes()))
                    .send()
                    .await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    check_listings(&s3, &all).await?;

    // Size and ETag come from each object's metadata, as before the index.
    let page = s3
        .list_objects_v2()
        .bucket("many")
        .prefix("日本/z/")
        .max_keys(1)
        .send()
        .await?;
    let object = &page.contents()[0];
    let key = object.key().unwrap();
    assert_eq!(object.size(), Some(i64::try_from(key.len()).unwrap()));
    let head = s3.head_object().bucket("many").key(key).send().await?;
    assert_eq!(object.e_tag(), head.e_tag());

    // Deletes and overwrites reach the index.
    let removed: Vec<String> = all.iter().step_by(7).cloned().collect();
    for key in &removed {
        s3.delete_object().bucket("many").key(key).send().await?;
    }
    all.retain(|k| !removed.contains(k));
    s3.put_object()
        .bucket("many")
        .key(&all[10])
        .body(ByteStream::from_static(
            b"longer than the key itself, surely",
        ))
        .send()
        .await?;
    check_listings(&s3, &all).await?;
    let overwritten = list(&s3, Some(&all[10]), None, None, Some(1), None).await?;
    assert_eq!(overwritten.keys, [all[10].clone()]);

    // A new process finds the same keys on disk.
    drop(server);
    let server = Server::start_with(options)?;
    let s3 = server.s3(server.root());
    check_listings(&s3, &all).await?;
    let sized = s3
        .list_objects_v2()
        .bucket("many")
        .prefix(&all[10])
        .max_keys(1)
        .send()
        .await?;
    assert_eq!(sized.contents()[0].size(), Some(34));
    Ok(())
}
