#!/usr/bin/env python3
"""Cross-check of Stowage's Kodo emulator and adapter with Qiniu's official Python SDK
(`pip install qiniu`), all hosts pointed at the emulator.

The SDK uploads a small file (form upload) and a 9 MiB file (resumable upload v2, 4 MiB
parts), stats and lists what Stowage wrote, and is refused with a wrong secret. It prints
one JSON document with everything it saw; the Rust test (crates/kodo/tests/sdk_crosscheck.rs)
compares those values with Stowage's own qetags and reads the SDK's objects back through
Stowage. Exit status 3: the qiniu package is missing.
"""

import argparse
import json
import os
import sys

try:
    import qiniu
    from qiniu import Auth, BucketManager, etag, put_data, put_file_v2
    from qiniu.region import LegacyRegion
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(f"the qiniu package is missing ({e}): pip install qiniu", file=sys.stderr)
    sys.exit(3)


def region(endpoint):
    return LegacyRegion(
        up_host=endpoint, io_host=endpoint, rs_host=endpoint, rsf_host=endpoint, api_host=endpoint
    )


def sdk_uploads(auth, bucket, regions, workdir):
    out = []
    files = [("sdk/small.ts", 1_500_000), ("sdk/big.mp4", 9 * 1024 * 1024 + 5)]
    for key, size in files:
        path = os.path.join(workdir, os.path.basename(key))
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        token = auth.upload_token(bucket, key, 3600)
        ret, info = put_file_v2(
            token, key, path, regions=regions, version="v2",
            part_size=4 * 1024 * 1024, bucket_name=bucket,
        )
        out.append({
            "key": key,
            "path": path,
            "size": size,
            "status": info.status_code,
            "returned_hash": (ret or {}).get("hash"),
            "local_etag": etag(path),
        })
    return out


def stowage_objects(manager, bucket, objects):
    listed, marker = {}, None
    while True:
        ret, eof, info = manager.list(bucket, prefix="stowage/", marker=marker, limit=1)
        if info.status_code != 200:
            raise SystemExit(f"list failed: {info}")
        listed.update({item["key"]: item for item in ret.get("items", [])})
        marker = ret.get("marker")
        if eof or not marker:
            break
    out = []
    for key, path in objects:
        stat, info = manager.stat(bucket, key)
        out.append({
            "key": key,
            "local_etag": etag(path),
            "stat_status": info.status_code,
            "stat_hash": (stat or {}).get("hash"),
            "stat_fsize": (stat or {}).get("fsize"),
            "listed_hash": listed.get(key, {}).get("hash"),
        })
    return out


def wrong_secret(args, regions):
    bad = Auth(args.access_key, args.secret_key + "-wrong")
    _, stat_info = BucketManager(bad, regions=regions).stat(args.bucket, "sdk/small.ts")
    token = bad.upload_token(args.bucket, "sdk/refused.ts", 3600)
    _, up_info = put_data(token, "sdk/refused.ts", b"refused", regions=regions)
    return {
        "stat_status": stat_info.status_code,
        "stat_error": stat_info.error,
        "upload_status": up_info.status_code,
        "upload_error": up_info.error,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--endpoint", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--stowage-object", action="append", default=[], metavar="KEY=PATH",
                   help="an object Stowage uploaded, and its local file")
    args = p.parse_args()

    auth = Auth(args.access_key, args.secret_key)
    regions = [region(args.endpoint)]
    manager = BucketManager(auth, regions=regions)
    objects = [tuple(o.split("=", 1)) for o in args.stowage_object]
    report = {
        "sdk_version": qiniu.__version__,
        "sdk_uploads": sdk_uploads(auth, args.bucket, regions, args.workdir),
        "stowage_objects": stowage_objects(manager, args.bucket, objects),
        "wrong_secret": wrong_secret(args, regions),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
