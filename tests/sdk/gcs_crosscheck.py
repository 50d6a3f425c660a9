#!/usr/bin/env python3
"""Cross-checks what Stowage stored in Google Cloud Storage (on fake-gcs-server) with
Google's official Python SDK, google-cloud-storage, and stores objects for Stowage to read.

Run by crates/gcs/tests/gcs/sdk_crosscheck.rs, which uploads objects with Stowage and
passes everything in the environment:

  STORAGE_EMULATOR_HOST     the emulator (the SDK's own variable: anonymous requests there)
  GCS_XC_BUCKET             the bucket
  GCS_XC_STOWAGE_OBJECTS    "key=crc64,key=crc64": what Stowage uploaded, with its local CRC-64/XZ
  GCS_XC_STOWAGE_PUT_MD5    "key=md5hex": an object Stowage stored with one upload (not composed)
  GCS_XC_ENDPOINT           the emulator's URL, the host signed URLs name
  GCS_XC_KEY_FILE           the service-account key (made by the test) Stowage signed with
  GCS_XC_PRESIGNED          "key=crc64=url,…": download URLs Stowage signed (V4)

What it does:
  1. Downloads each Stowage object with the SDK's CRC-32C validation (checksum="crc32c":
     the SDK hashes what it receives and raises on a difference with the x-goog-hash GCS
     sends), and compares the CRC-64s.
  2. Reads each object's metadata: its crc32c is the CRC-32C of the bytes (google-crc32c),
     and the single upload's md5Hash is their MD5 (then downloads it with MD5 validation).
  3. For each signed URL: the SDK signs the same object with the same key at the same
     time (X-Goog-Date) and lifetime for storage.googleapis.com (the host object_store
     signs), and its X-Goog-Signature must be Stowage's; the URL,
     fetched with plain HTTP (no credentials), serves the object's bytes.
  4. Uploads sdk/small.ts (multipart upload, MD5 checked by the SDK) and sdk/resumable.mp4
     (a resumable upload in 256 KiB chunks, CRC-32C checked), for Stowage to read back.

The last line of output is JSON:
  {"ok": bool, "checks": [...], "sdk_objects": {key: {"crc64": int, "crc32c": b64, "md5": hex}}}
Exit status: 0 all checks passed, 1 a check failed, 3 the SDK is not installed.
"""

import base64
import hashlib
import json
import os
import sys
import urllib.parse
import urllib.request

try:
    import google_crc32c
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage
except ImportError as e:
    print(
        f"Google's Cloud Storage SDK is not installed ({e}): run `python3 -m pip install google-cloud-storage`",
        file=sys.stderr,
    )
    sys.exit(3)


def _table():
    poly = 0xC96C5795D7870F42  # CRC-64/XZ (ECMA-182, reflected)
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _table()


def crc64(data: bytes) -> int:
    c = 0xFFFFFFFFFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFFFFFFFFFF


def crc32c_b64(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


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


def main() -> int:
    client = storage.Client(project="stowage-test", credentials=AnonymousCredentials())
    bucket = client.bucket(os.environ["GCS_XC_BUCKET"])
    checks = []
    sdk_objects = {}

    def check(name: str, ok: bool, detail: str = ""):
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    # 1. and 2. Stowage's objects, read with CRC-32C validation; their stored hashes.
    for pair in filter(None, os.environ.get("GCS_XC_STOWAGE_OBJECTS", "").split(",")):
        key, want = pair.rsplit("=", 1)
        try:
            data = bucket.blob(key).download_as_bytes(checksum="crc32c")
            check(f"stowage {key} read with CRC-32C validation", crc64(data) == int(want),
                  f"{len(data)} bytes")
        except Exception as e:  # the SDK raises DataCorruption on a mismatch
            check(f"stowage {key} read with CRC-32C validation", False, repr(e))
            continue
        blob = bucket.get_blob(key)
        check(f"stowage {key} keeps the CRC-32C of its bytes",
              blob is not None and blob.crc32c == crc32c_b64(data),
              f"{blob.crc32c if blob else None} vs {crc32c_b64(data)}")

    put = os.environ.get("GCS_XC_STOWAGE_PUT_MD5", "")
    if put:
        key, md5 = put.split("=", 1)
        blob = bucket.get_blob(key)
        stored = base64.b64decode(blob.md5_hash).hex() if blob and blob.md5_hash else None
        check(f"stowage {key} keeps its md5Hash", stored == md5, str(stored))
        try:
            data = bucket.blob(key).download_as_bytes(checksum="md5")
            check(f"stowage {key} read with MD5 validation", hashlib.md5(data).hexdigest() == md5)
        except Exception as e:
            check(f"stowage {key} read with MD5 validation", False, repr(e))

    # 3. Stowage's V4 signed URLs, against the SDK's signature for the same request.
    presigned = os.environ.get("GCS_XC_PRESIGNED", "")
    if presigned:
        from google.cloud.storage import _signing
        from google.oauth2 import service_account

        creds = service_account.Credentials.from_service_account_file(os.environ["GCS_XC_KEY_FILE"])
        for entry in presigned.split(","):
            key, want, url = entry.split("=", 2)
            ours = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            sdk_url = _signing.generate_signed_url_v4(
                creds,
                resource=f"/{bucket.name}/{urllib.parse.quote(key, safe='/~')}",
                expiration=int(ours["X-Goog-Expires"]),
                # object_store signs for Google's host (storage.googleapis.com) whatever
                # the URL's host: the signature is compared for that host.
                api_access_endpoint="https://storage.googleapis.com",
                method="GET",
                _request_timestamp=ours["X-Goog-Date"],
            )
            theirs = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(sdk_url).query))
            check(f"stowage signed url for {key} has the SDK's signature",
                  ours.get("X-Goog-Signature") == theirs.get("X-Goog-Signature")
                  and ours.get("X-Goog-Credential") == theirs.get("X-Goog-Credential"),
                  f"{url} vs {sdk_url}")
            with urllib.request.urlopen(url, timeout=10) as reply:
                body = reply.read()
            check(f"stowage signed url for {key} serves the object", crc64(body) == int(want),
                  f"{len(body)} bytes")

    # 4. Objects stored by the SDK.
    small = pseudo_random(150_000, 41)
    blob = bucket.blob("sdk/small.ts")
    blob.upload_from_string(small, content_type="video/mp2t", checksum="md5")
    sdk_objects["sdk/small.ts"] = {"crc64": crc64(small), "crc32c": crc32c_b64(small),
                                   "md5": hashlib.md5(small).hexdigest()}

    big = pseudo_random(3 * 256 * 1024 + 999, 42)
    blob = bucket.blob("sdk/resumable.mp4", chunk_size=256 * 1024)
    blob.upload_from_string(big, content_type="video/mp4", checksum="crc32c")
    sdk_objects["sdk/resumable.mp4"] = {"crc64": crc64(big), "crc32c": crc32c_b64(big),
                                        "md5": hashlib.md5(big).hexdigest()}
    stored = bucket.get_blob("sdk/resumable.mp4")
    check("sdk resumable upload stored", stored is not None and stored.size == len(big))

    ok = all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "checks": checks, "sdk_objects": sdk_objects}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
