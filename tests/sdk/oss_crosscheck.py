#!/usr/bin/env python3
"""Cross-checks the OSS emulator (and what Stowage stored in it) with Aliyun's official
Python SDK, alibabacloud-oss-v2. If the SDK and the emulator disagree, the emulator is wrong.

Run by crates/oss/tests/sdk_crosscheck.rs, which starts the emulator, uploads objects with
Stowage, and passes everything in the environment:

  OSS_XC_ENDPOINT, OSS_XC_REGION, OSS_XC_BUCKET, OSS_XC_ACCESS_KEY, OSS_XC_SECRET_KEY
  OSS_XC_STOWAGE_OBJECTS   "key=crc64,key=crc64" objects Stowage uploaded, with their local CRC
  OSS_XC_DIR               a scratch directory

What it does, with the SDK's own CRC-64 checks on (the default):
  1. PutObject of a small object; the SDK checks the returned x-oss-hash-crc64ecma.
  2. A multipart upload (uploader, 256 KiB parts); the SDK combines the parts' CRCs and
     checks the completed object's.
  3. Reads both back, and each object Stowage uploaded, and compares CRC-64s.
  4. A wrong secret must be refused with SignatureDoesNotMatch.
  5. Presigned GETs: the SDK's presigned URLs (V4 and V1) for its object are fetched with
     plain HTTP (urllib, no credentials) and serve its bytes; the same URL for another key
     is refused with SignatureDoesNotMatch. Stowage's presigned URL
     (OSS_XC_STOWAGE_PRESIGNED, "key=crc64=url") serves the object's bytes too.

The last line of output is JSON: {"ok": bool, "checks": [...], "sdk_objects": {key: crc}}.
Exit status: 0 all checks passed, 1 a check failed, 3 the SDK is not installed.
"""

import datetime
import json
import os
import sys
import urllib.error
import urllib.request

try:
    import alibabacloud_oss_v2 as oss
    from alibabacloud_oss_v2.crc import Crc64
except ImportError as e:
    print(
        f"the official OSS SDK is not installed ({e}): run `python3 -m pip install alibabacloud-oss-v2`",
        file=sys.stderr,
    )
    sys.exit(3)


def crc64(data: bytes) -> int:
    c = Crc64(0)
    c.update(data)
    return c.sum64()


def pseudo_random(n: int, seed: int) -> bytes:
    out = bytearray()
    x = seed | 1
    mask = (1 << 64) - 1
    while len(out) < n:
        x ^= (x << 13) & mask
        x ^= x >> 7
        x ^= (x << 17) & mask
        out += x.to_bytes(8, "little")
    return bytes(out[:n])


def client(secret: str, signature_version: str = "v4"):
    cfg = oss.config.load_default()
    cfg.signature_version = signature_version
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        os.environ["OSS_XC_ACCESS_KEY"], secret
    )
    cfg.region = os.environ["OSS_XC_REGION"]
    cfg.endpoint = os.environ["OSS_XC_ENDPOINT"]
    cfg.use_path_style = True
    cfg.retry_max_attempts = 1
    return oss.Client(cfg)


def plain_get(url: str):
    """(status, body) of a GET without credentials."""
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def presign_checks(check, bucket: str, key: str, want: int):
    for version in ("v4", "v1"):
        signer = client(os.environ["OSS_XC_SECRET_KEY"], version)
        url = signer.presign(
            oss.GetObjectRequest(bucket=bucket, key=key), expires=datetime.timedelta(minutes=10)
        ).url
        status, body = plain_get(url)
        check(f"sdk presigned {version} url fetched", status == 200 and crc64(body) == want,
              f"HTTP {status}")
        other = url.replace(key.split("/")[-1], "no-such-object.ts", 1)
        status, body = plain_get(other)
        check(f"sdk presigned {version} url for another key refused",
              status == 403 and b"SignatureDoesNotMatch" in body, f"HTTP {status}")
    stowage = os.environ.get("OSS_XC_STOWAGE_PRESIGNED", "")
    if stowage:
        key, crc, url = stowage.split("=", 2)
        status, body = plain_get(url)
        check(f"stowage presigned url for {key} fetched",
              status == 200 and crc64(body) == int(crc), f"HTTP {status}")


def service_code(err: Exception) -> str:
    inner = err.unwrap() if hasattr(err, "unwrap") else err
    return getattr(inner, "code", type(inner).__name__)


def main() -> int:
    bucket = os.environ["OSS_XC_BUCKET"]
    scratch = os.environ["OSS_XC_DIR"]
    good = client(os.environ["OSS_XC_SECRET_KEY"])
    checks = []
    sdk_objects = {}

    def check(name: str, ok: bool, detail: str = ""):
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    # 1. small PutObject
    small = pseudo_random(200_000, 21)
    put = good.put_object(oss.PutObjectRequest(bucket=bucket, key="sdk/small.ts", body=small))
    check("sdk put crc64", int(put.hash_crc64) == crc64(small), f"{put.hash_crc64}")
    sdk_objects["sdk/small.ts"] = crc64(small)

    # 2. multipart through the SDK's uploader
    big = pseudo_random(3 * 256 * 1024 + 4321, 22)
    path = os.path.join(scratch, "sdk-multipart.mp4")
    with open(path, "wb") as f:
        f.write(big)
    uploader = good.uploader(part_size=256 * 1024, parallel_num=2)
    up = uploader.upload_file(oss.PutObjectRequest(bucket=bucket, key="sdk/multipart.mp4"), filepath=path)
    check("sdk multipart crc64", int(up.hash_crc64) == crc64(big), f"{up.hash_crc64}")
    sdk_objects["sdk/multipart.mp4"] = crc64(big)

    # 3. read back what the SDK and Stowage stored
    def read_back(key: str, want: int, who: str):
        got = good.get_object(oss.GetObjectRequest(bucket=bucket, key=key))
        data = got.body.read()
        header = int(got.hash_crc64) if got.hash_crc64 is not None else None
        check(f"{who} object {key} crc64", crc64(data) == want and header == want,
              f"bytes {crc64(data)}, header {header}, expected {want}")
        head = good.head_object(oss.HeadObjectRequest(bucket=bucket, key=key))
        check(f"{who} object {key} head", int(head.content_length) == len(data)
              and int(head.hash_crc64) == want, f"{head.content_length} {head.hash_crc64}")

    kind = good.head_object(oss.HeadObjectRequest(bucket=bucket, key="sdk/multipart.mp4")).object_type
    check("sdk multipart is a multipart object", kind == "Multipart", str(kind))

    read_back("sdk/small.ts", crc64(small), "sdk")
    read_back("sdk/multipart.mp4", crc64(big), "sdk")
    for item in filter(None, os.environ.get("OSS_XC_STOWAGE_OBJECTS", "").split(",")):
        key, want = item.rsplit("=", 1)
        read_back(key, int(want), "stowage")

    listed = good.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket, prefix="sdk/"))
    keys = sorted(o.key for o in (listed.contents or []))
    check("sdk list", keys == ["sdk/multipart.mp4", "sdk/small.ts"], str(keys))
    top = good.list_objects_v2(oss.ListObjectsV2Request(bucket=bucket, delimiter="/"))
    prefixes = sorted(p.prefix for p in (top.common_prefixes or []))
    check("sdk list with delimiter", prefixes == ["sdk/", "stowage/"] and not top.contents, str(prefixes))

    # 4. a wrong secret is refused
    bad = client("wrong-" + os.environ["OSS_XC_SECRET_KEY"])
    try:
        bad.put_object(oss.PutObjectRequest(bucket=bucket, key="sdk/denied.ts", body=b"x"))
        check("sdk wrong secret refused", False, "the upload succeeded")
    except Exception as e:  # the SDK wraps the service error in an OperationError
        code = service_code(e)
        check("sdk wrong secret refused", code == "SignatureDoesNotMatch", code)

    # 5. presigned URLs, both ways
    presign_checks(check, bucket, "sdk/small.ts", crc64(small))

    ok = all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "checks": checks, "sdk_objects": sdk_objects}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
