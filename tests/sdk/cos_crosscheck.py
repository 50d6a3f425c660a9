#!/usr/bin/env python3
"""Cross-checks the COS emulator (and what Stowage stored in it) with Tencent's official
Python SDK, cos-python-sdk-v5. If the SDK and the emulator disagree, the emulator is wrong.

Run by crates/cos/tests/sdk_crosscheck.rs, which starts the emulator, uploads objects with
Stowage, and passes everything in the environment:

  COS_XC_IP, COS_XC_PORT   where the emulator listens (the SDK's IP/Port options: requests
                           go there with `Host: <bucket>.cos.<region>.myqcloud.com`)
  COS_XC_REGION, COS_XC_BUCKET, COS_XC_SECRET_ID, COS_XC_SECRET_KEY
  COS_XC_STOWAGE_OBJECTS   "key=crc64,key=crc64" objects Stowage uploaded, with their local CRC
  COS_XC_DIR               a scratch directory

What it does:
  1. put_object of a small object; the returned x-cos-hash-crc64ecma must be the CRC-64 of
     the bytes (computed with crcmod as the SDK's own downloader does).
  2. A multipart upload part by part (create, upload_part, complete): each part's CRC
     header, and the completed object's.
  3. upload_file (the SDK's own multipart uploader, 1 MB parts, with its upload-id lookup
     and part listing).
  4. Reads back the SDK's objects and each object Stowage uploaded (get_object, head_object,
     and download_file with EnableCRC for ranged, CRC-checked downloads); lists with marker
     paging; head_bucket names the region.
  5. A wrong SecretKey must be refused with SignatureDoesNotMatch.
  6. Presigned GETs: the SDK's get_presigned_download_url for its object (real COS host
     names), fetched with plain HTTP (urllib, no credentials, sent to the emulator with the
     URL's host in Host, as DNS would route it), serves its bytes; the same URL for another key is refused with
     SignatureDoesNotMatch. Stowage's presigned URL (COS_XC_STOWAGE_PRESIGNED,
     "key=crc64=url") serves the object's bytes too.

The last line of output is JSON: {"ok": bool, "checks": [...], "sdk_objects": {key: crc}}.
Exit status: 0 all checks passed, 1 a check failed, 3 the SDK is not installed.
"""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

try:
    import crcmod
    from qcloud_cos import CosConfig, CosS3Client
    from qcloud_cos.cos_exception import CosServiceError
except ImportError as e:
    print(
        f"the official COS SDK is not installed ({e}): run `python3 -m pip install cos-python-sdk-v5`",
        file=sys.stderr,
    )
    sys.exit(3)

# CRC-64/XZ exactly as cos-python-sdk-v5's resumable downloader defines it.
_crc64 = crcmod.mkCrcFun(0x142F0E1EBA9EA3693, initCrc=0, xorOut=0xFFFFFFFFFFFFFFFF, rev=True)
MB = 1024 * 1024


def crc64(data: bytes) -> int:
    return _crc64(data)


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


def client(secret: str) -> CosS3Client:
    cfg = CosConfig(
        Region=os.environ["COS_XC_REGION"],
        SecretId=os.environ["COS_XC_SECRET_ID"],
        SecretKey=secret,
        Scheme="http",
        IP=os.environ["COS_XC_IP"],
        Port=int(os.environ["COS_XC_PORT"]),
    )
    return CosS3Client(cfg, retry=1)


def plain_get(url: str):
    """(status, body) of a GET without credentials. The URL names the bucket's COS host;
    it is sent to the emulator (COS_XC_IP:COS_XC_PORT) with that host in Host, as DNS
    would route it."""
    parts = urllib.parse.urlsplit(url)
    local = f"{os.environ['COS_XC_IP']}:{os.environ['COS_XC_PORT']}"
    req = urllib.request.Request(parts._replace(netloc=local).geturl(), headers={"Host": parts.netloc})
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def presign_checks(check, bucket: str, key: str, want: int):
    # Without IP/Port: the URL, and the host it signs, are the bucket's real COS host.
    cfg = CosConfig(
        Region=os.environ["COS_XC_REGION"],
        SecretId=os.environ["COS_XC_SECRET_ID"],
        SecretKey=os.environ["COS_XC_SECRET_KEY"],
        Scheme="http",
    )
    url = CosS3Client(cfg).get_presigned_download_url(Bucket=bucket, Key=key, Expired=600)
    status, body = plain_get(url)
    check("sdk presigned url fetched", status == 200 and crc64(body) == want, f"HTTP {status} {body[:300]!r}")
    other = url.replace(key.split("/")[-1], "no-such-object.ts", 1)
    status, body = plain_get(other)
    check("sdk presigned url for another key refused",
          status == 403 and b"SignatureDoesNotMatch" in body, f"HTTP {status}")
    stowage = os.environ.get("COS_XC_STOWAGE_PRESIGNED", "")
    if stowage:
        key, crc, url = stowage.split("=", 2)
        status, body = plain_get(url)
        check(f"stowage presigned url for {key} fetched",
              status == 200 and crc64(body) == int(crc), f"HTTP {status} {body[:300]!r}")


def main() -> int:
    bucket = os.environ["COS_XC_BUCKET"]
    scratch = os.environ["COS_XC_DIR"]
    good = client(os.environ["COS_XC_SECRET_KEY"])
    checks = []
    sdk_objects = {}

    def check(name: str, ok: bool, detail: str = ""):
        checks.append({"name": name, "ok": bool(ok), "detail": detail})

    check("crcmod is CRC-64/XZ", crc64(b"123456789") == 11051210869376104954)

    # 1. small put_object, with the SDK's Content-MD5
    small = pseudo_random(200_000, 21)
    put = good.put_object(Bucket=bucket, Key="sdk/small.ts", Body=small, EnableMD5=True)
    check("sdk put crc64", int(put["x-cos-hash-crc64ecma"]) == crc64(small), str(put))
    sdk_objects["sdk/small.ts"] = crc64(small)

    # 2. multipart, part by part
    big = pseudo_random(2 * MB + 4321, 22)
    up = good.create_multipart_upload(Bucket=bucket, Key="sdk/parts.mp4")
    upload_id = up["UploadId"]
    parts = []
    for n, start in enumerate(range(0, len(big), MB), start=1):
        chunk = big[start:start + MB]
        r = good.upload_part(Bucket=bucket, Key="sdk/parts.mp4", Body=chunk, PartNumber=n,
                             UploadId=upload_id, EnableMD5=True)
        check(f"sdk part {n} crc64", int(r["x-cos-hash-crc64ecma"]) == crc64(chunk), str(r))
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    listed_parts = good.list_parts(Bucket=bucket, Key="sdk/parts.mp4", UploadId=upload_id)
    check("sdk list_parts", len(listed_parts.get("Part", [])) == len(parts), str(listed_parts))
    done = good.complete_multipart_upload(Bucket=bucket, Key="sdk/parts.mp4", UploadId=upload_id,
                                          MultipartUpload={"Part": parts})
    check("sdk complete crc64", int(done["x-cos-hash-crc64ecma"]) == crc64(big), str(done))
    sdk_objects["sdk/parts.mp4"] = crc64(big)

    # 3. the SDK's own multipart uploader
    other = pseudo_random(3 * MB + 77, 23)
    path = os.path.join(scratch, "sdk-upload-file.mp4")
    with open(path, "wb") as f:
        f.write(other)
    good.upload_file(Bucket=bucket, Key="sdk/upload_file.mp4", LocalFilePath=path, PartSize=1, MAXThread=2)
    sdk_objects["sdk/upload_file.mp4"] = crc64(other)

    # 4. read back what the SDK and Stowage stored
    def read_back(key: str, want: int, who: str):
        got = good.get_object(Bucket=bucket, Key=key)
        data = got["Body"].get_raw_stream().read()
        header = int(got["x-cos-hash-crc64ecma"])
        check(f"{who} object {key} crc64", crc64(data) == want and header == want,
              f"bytes {crc64(data)}, header {header}, expected {want}")
        head = good.head_object(Bucket=bucket, Key=key)
        check(f"{who} object {key} head", int(head["Content-Length"]) == len(data)
              and int(head["x-cos-hash-crc64ecma"]) == want, str(head))
        if len(data) > MB:
            dest = os.path.join(scratch, "download-" + key.replace("/", "_"))
            # Ranged parts, then the SDK compares the file's CRC-64 with the header.
            good.download_file(Bucket=bucket, Key=key, DestFilePath=dest, PartSize=1, MAXThread=2,
                               EnableCRC=True)
            with open(dest, "rb") as f:
                check(f"{who} object {key} download_file", crc64(f.read()) == want)

    for key, want in sdk_objects.items():
        read_back(key, want, "sdk")
    for item in filter(None, os.environ.get("COS_XC_STOWAGE_OBJECTS", "").split(",")):
        key, want = item.rsplit("=", 1)
        read_back(key, int(want), "stowage")

    keys = []
    marker = ""
    pages = 0
    while True:
        page = good.list_objects(Bucket=bucket, Prefix="sdk/", Marker=marker, MaxKeys=2)
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        if page.get("IsTruncated") != "true":
            break
        marker = page.get("NextMarker") or keys[-1]
    check("sdk list with marker paging", keys == sorted(sdk_objects) and pages == 2, f"{pages} {keys}")
    top = good.list_objects(Bucket=bucket, Delimiter="/")
    prefixes = sorted(p["Prefix"] for p in top.get("CommonPrefixes", []))
    check("sdk list with delimiter", prefixes == ["sdk/", "stowage/"] and not top.get("Contents"), str(prefixes))
    region = good.head_bucket(Bucket=bucket).get("x-cos-bucket-region")
    check("sdk head_bucket region", region == os.environ["COS_XC_REGION"], str(region))

    # 5. a wrong SecretKey is refused
    bad = client("wrong-" + os.environ["COS_XC_SECRET_KEY"])
    try:
        bad.put_object(Bucket=bucket, Key="sdk/denied.ts", Body=b"x")
        check("sdk wrong secret refused", False, "the upload succeeded")
    except CosServiceError as e:
        check("sdk wrong secret refused", e.get_error_code() == "SignatureDoesNotMatch"
              and e.get_status_code() == 403, e.get_error_code())

    # 6. presigned URLs, both ways
    presign_checks(check, bucket, "sdk/small.ts", crc64(small))

    ok = all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "checks": checks, "sdk_objects": sdk_objects}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
