#!/usr/bin/env python3
"""Uploads a local directory to a COS bucket with Tencent's official Python SDK
(cos-python-sdk-v5): an independent client putting recorder output where `stowage verify`
will look for it. Run by crates/cli/tests/it/verify_corpus.rs.

Environment:
  COS_UP_IP, COS_UP_PORT   where the emulator listens (the SDK's IP/Port options)
  COS_UP_REGION, COS_UP_BUCKET, COS_UP_SECRET_ID, COS_UP_SECRET_KEY
  COS_UP_DIR               the directory to upload (files directly in it)
  COS_UP_PREFIX            the key prefix, e.g. `corpus/agora-default/`

The last line of output is JSON: {"ok": true, "uploaded": [keys]}.
Exit status: 0 uploaded, 1 an upload failed, 3 the SDK is not installed.
"""

import json
import os
import sys

try:
    from qcloud_cos import CosConfig, CosS3Client
except ImportError as e:
    print(
        f"the official COS SDK is not installed ({e}): run `python3 -m pip install cos-python-sdk-v5`",
        file=sys.stderr,
    )
    sys.exit(3)


def main() -> int:
    cfg = CosConfig(
        Region=os.environ["COS_UP_REGION"],
        SecretId=os.environ["COS_UP_SECRET_ID"],
        SecretKey=os.environ["COS_UP_SECRET_KEY"],
        Scheme="http",
        IP=os.environ["COS_UP_IP"],
        Port=int(os.environ["COS_UP_PORT"]),
    )
    client = CosS3Client(cfg, retry=1)
    bucket, prefix, root = os.environ["COS_UP_BUCKET"], os.environ["COS_UP_PREFIX"], os.environ["COS_UP_DIR"]
    uploaded = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name)
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            client.put_object(Bucket=bucket, Key=prefix + name, Body=f.read())
        uploaded.append(prefix + name)
    print(json.dumps({"ok": True, "uploaded": uploaded}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # the test prints it; one line of JSON stays last
        print(json.dumps({"ok": False, "error": str(e)}))
        sys.exit(1)
