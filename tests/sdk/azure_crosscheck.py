#!/usr/bin/env python3
"""Cross-checks what Stowage stored in Azure Blob (on Azurite) with Microsoft's official
Python SDK, azure-storage-blob, and stores objects for Stowage to read back.

Run by crates/azure/tests/azure/sdk_crosscheck.rs, which uploads objects with Stowage and
passes everything in the environment:

  AZ_XC_CONNECTION_STRING  the account (Azurite's development account)
  AZ_XC_CONTAINER          the container
  AZ_XC_STOWAGE_OBJECTS    "key=crc64,key=crc64": what Stowage uploaded, with its local CRC-64/XZ
  AZ_XC_STOWAGE_PUT_MD5    "key=md5hex": an object Stowage stored with one Put Blob
  AZ_XC_STOWAGE_PRESIGNED  "key=crc64=url": a download URL Stowage signed

What it does, with the SDK's MD5 validation on (validate_content=True):
  1. Downloads each Stowage object in ranges of at most 4 MiB, each checked by the SDK
     against the range's Content-MD5 Azure computes, and compares the CRC-64s.
  2. The Put Blob object's stored Content-MD5 (blob properties) is the MD5 of its bytes.
  3. Fetches Stowage's signed URL with plain HTTP (no credentials): the object's bytes.
  4. Uploads sdk/small.ts (Put Blob with Content-MD5) and sdk/blocks.mp4 (three blocks with
     Content-MD5, then Put Block List), for Stowage to read back.

The last line of output is JSON:
  {"ok": bool, "checks": [...], "sdk_objects": {key: {"crc64": int, "md5": hex or null}}}
Exit status: 0 all checks passed, 1 a check failed, 3 the SDK is not installed.
"""

import base64
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

try:
    from azure.storage.blob import BlobBlock, BlobServiceClient
except ImportError as e:
    print(
        f"Microsoft's Azure Blob SDK is not installed ({e}): run `python3 -m pip install azure-storage-blob`",
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


def plain_get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main() -> int:
    service = BlobServiceClient.from_connection_string(
        os.environ["AZ_XC_CONNECTION_STRING"], max_chunk_get_size=1024 * 1024
    )
    container = service.get_container_client(os.environ["AZ_XC_CONTAINER"])
    checks = []
    sdk_objects = {}

    def check(name: str, ok: bool, detail: str = ""):
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    # 1. Stowage's objects, read with MD5 validation of every range.
    for pair in filter(None, os.environ.get("AZ_XC_STOWAGE_OBJECTS", "").split(",")):
        key, want = pair.rsplit("=", 1)
        try:
            data = container.get_blob_client(key).download_blob(validate_content=True).readall()
            check(f"stowage {key} read with MD5 validation", crc64(data) == int(want),
                  f"{len(data)} bytes")
        except Exception as e:  # the SDK raises on an MD5 mismatch
            check(f"stowage {key} read with MD5 validation", False, repr(e))

    # 2. The MD5 a Put Blob leaves as the blob's property.
    put = os.environ.get("AZ_XC_STOWAGE_PUT_MD5", "")
    if put:
        key, md5 = put.split("=", 1)
        props = container.get_blob_client(key).get_blob_properties()
        stored = props.content_settings.content_md5
        check(f"stowage {key} keeps its Content-MD5",
              stored is not None and bytes(stored).hex() == md5,
              bytes(stored).hex() if stored else "none")

    # 3. Stowage's signed URL, without credentials.
    presigned = os.environ.get("AZ_XC_STOWAGE_PRESIGNED", "")
    if presigned:
        key, want, url = presigned.split("=", 2)
        status, body = plain_get(url)
        check(f"stowage signed url for {key} fetched",
              status == 200 and crc64(body) == int(want), f"HTTP {status}")
        status, _ = plain_get(url.replace("sig=", "sig=AAAA", 1))
        check("a forged signature is refused", status == 403, f"HTTP {status}")

    # 4. Objects stored by the SDK, with Content-MD5 on every request.
    small = pseudo_random(150_000, 41)
    blob = container.get_blob_client("sdk/small.ts")
    blob.upload_blob(small, overwrite=True, validate_content=True)
    sdk_objects["sdk/small.ts"] = {"crc64": crc64(small), "md5": hashlib.md5(small).hexdigest()}

    big = pseudo_random(3 * 256 * 1024 + 999, 42)
    blocks = container.get_blob_client("sdk/blocks.mp4")
    ids = []
    for i in range(0, len(big), 256 * 1024):
        block_id = base64.b64encode(f"sdk-block-{i:08d}".encode()).decode()
        blocks.stage_block(block_id, big[i:i + 256 * 1024], validate_content=True)
        ids.append(BlobBlock(block_id=block_id))
    blocks.commit_block_list(ids)
    sdk_objects["sdk/blocks.mp4"] = {"crc64": crc64(big), "md5": None}
    check("sdk block upload committed", blocks.get_blob_properties().size == len(big))

    ok = all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "checks": checks, "sdk_objects": sdk_objects}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
