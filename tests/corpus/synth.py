#!/usr/bin/env python3
"""Writes the corpus's recorder-shaped playlists and their synthetic segments.

Run from anywhere: `python3 tests/corpus/synth.py`. Each segment is a few MPEG-TS packets
(188 bytes, sync byte 0x47) whose payload is derived from the file name, so every segment's
bytes differ and the corpus stays a few KB. The ffmpeg shapes are not written here: they are
real ffmpeg output (see README.md).
"""

import hashlib
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def ts(name: str, packets: int = 2) -> bytes:
    out = bytearray()
    seed = hashlib.sha256(name.encode()).digest()
    for i in range(packets):
        body = hashlib.sha256(seed + bytes([i])).digest() * 6  # 192 bytes
        out += b"\x47" + body[:187]
    return bytes(out)


def write(shape: str, files: dict) -> None:
    d = os.path.join(HERE, shape)
    os.makedirs(d, exist_ok=True)
    for name, body in files.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(body if isinstance(body, bytes) else body.encode())


def segments(names) -> dict:
    return {n: ts(n) for n in names}


SID = "a3f1c9d2e4b5061728394a5b6c7d8e9f"


def agora_default() -> None:
    """Composite mode (domain.md §A4, §A9): `<sid>_<cname>.m3u8`, `<sid>_<cname>_<utc>.ts`,
    EXTINF without a comma, EXT-X-AGORA-* tags with both TIME= forms, a leading
    discontinuity and one on a resolution change."""
    base = f"{SID}_room1"
    times = ["20261124153000000", "20261124153015040", "20261124153030040",
             "20261124153045000", "20261124153100000"]
    durs = ["15.040000", "15.000000", "14.960000", "15.000000", "6.332000"]
    names = [f"{base}_{t}.ts" for t in times]
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-ALLOW-CACHE:YES",
             "#EXT-X-TARGETDURATION:18", "#EXT-X-DISCONTINUITY",
             f"#EXT-X-AGORA-ROTATE:WIDTH=640,HEIGHT=480,ROTATE=0,TIME={times[0]}",
             f"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME={times[0]}"]
    for i, (n, d) in enumerate(zip(names, durs)):
        if i == 3:  # 15:30:45.000 UTC as Unix milliseconds, the form playback.md shows
            lines += ["#EXT-X-AGORA-ROTATE:WIDTH=1280,HEIGHT=720,ROTATE=0,TIME=1795534245000",
                      "#EXT-X-DISCONTINUITY"]
        lines += [f"#EXTINF:{d}", n]
    lines.append("#EXT-X-ENDLIST")
    write("agora-default", {f"{base}.m3u8": "\n".join(lines) + "\n", **segments(names)})


def agora_correct_extinf() -> None:
    """Individual mode with `privateParams: {"correctEXTINF": true}`: one playlist per uid
    and track, `<sid>_<cname>__uid_s_<uid>__uid_e_<type>.m3u8`, EXTINF with the comma."""
    files = {}
    for track, durs in (("video", ["15.200000", "15.000000", "9.480000"]),
                        ("audio", ["15.000000", "15.000000", "9.680000"])):
        base = f"{SID}_room2__uid_s_123__uid_e_{track}"
        start_ms = 0
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-ALLOW-CACHE:YES",
                 "#EXT-X-TARGETDURATION:18", "#EXT-X-DISCONTINUITY",
                 f"#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE={track.upper()},TIME=1795536000000"]
        for d in durs:
            s, ms = divmod(start_ms, 1000)
            m, s = divmod(s, 60)
            name = f"{base}_2026112416{m:02d}{s:02d}{ms:03d}.ts"
            lines += [f"#EXTINF:{d},", name]
            files[name] = ts(name)
            start_ms += round(float(d) * 1000)
        lines.append("#EXT-X-ENDLIST")
        files[f"{base}.m3u8"] = "\n".join(lines) + "\n"
    write("agora-correct-extinf", files)


def agora_backup_failover() -> None:
    """One session's abnormal-condition files (domain.md §A4): the main playlist as last
    uploaded (3 segments), the copy Agora's backup cloud re-sent later with `_<tick>_<index>`
    (4 segments; segment names never get the suffix), and the failover continuation, whose
    playlist and segments carry `bak0_`."""
    base = f"{SID}_room3"
    times = ["20261124170000000", "20261124170015000", "20261124170030000", "20261124170045000"]
    main = [f"{base}_{t}.ts" for t in times]

    def playlist(names, durs, lead=()):
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-MEDIA-SEQUENCE:0", "#EXT-X-ALLOW-CACHE:YES",
                 "#EXT-X-TARGETDURATION:16", *lead]
        for n, d in zip(names, durs):
            lines += [f"#EXTINF:{d}", n]
        return "\n".join(lines + ["#EXT-X-ENDLIST"]) + "\n"

    start = ("#EXT-X-DISCONTINUITY",
             "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20261124170000000")
    bak_times = ["20261124170130000", "20261124170145000"]
    bak = [f"bak0_{base}_{t}.ts" for t in bak_times]
    resumed = ("#EXT-X-DISCONTINUITY",
               "#EXT-X-AGORA-TRACK-EVENT:EVENT=START,TRACK_TYPE=VIDEO,TIME=20261124170130000")
    write("agora-backup-failover", {
        f"{base}.m3u8": playlist(main[:3], ["15.000000"] * 3, start),
        f"{base}_22194679897_0.m3u8": playlist(main, ["15.000000"] * 4, start),
        f"bak0_{base}.m3u8": playlist(bak, ["15.000000", "12.500000"], resumed),
        **segments(main), **segments(bak),
    })


def livekit_event() -> None:
    """LiveKit Egress's segmented output: the EVENT playlist its m3u8 writer produces
    (livekit/egress pkg/pipeline/sink/m3u8/writer_test.go), closed with ENDLIST."""
    names = [f"playlist_{i:05d}.ts" for i in range(4)]
    pdts = ["2023-05-03T22:55:04.814Z", "2023-05-03T22:55:10.808Z",
            "2023-05-03T22:55:16.802Z", "2023-05-03T22:55:22.796Z"]
    lines = ["#EXTM3U", "#EXT-X-VERSION:4", "#EXT-X-PLAYLIST-TYPE:EVENT", "#EXT-X-ALLOW-CACHE:NO",
             "#EXT-X-TARGETDURATION:6", "#EXT-X-MEDIA-SEQUENCE:0"]
    for n, p in zip(names, pdts):
        lines += [f"#EXT-X-PROGRAM-DATE-TIME:{p}", "#EXTINF:5.994,", n]
    lines.append("#EXT-X-ENDLIST")
    write("livekit-egress-event", {"playlist.m3u8": "\n".join(lines) + "\n", **segments(names)})


def nginx_rtmp_live() -> None:
    """nginx-rtmp-module's live HLS (hls/ngx_rtmp_hls_module.c): a sliding window starting at
    MEDIA-SEQUENCE 42, `<stream>-<n>.ts`, a discontinuity where the publisher reconnected, no
    ENDLIST while live; the segments before the window were deleted by the server."""
    durs = ["5.000", "5.005", "4.838", "5.000", "5.000", "3.120"]
    names = [f"stream-{42 + i}.ts" for i in range(len(durs))]
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-MEDIA-SEQUENCE:42", "#EXT-X-TARGETDURATION:5"]
    for i, (n, d) in enumerate(zip(names, durs)):
        if i == 2:
            lines.append("#EXT-X-DISCONTINUITY")
        lines += [f"#EXTINF:{d},", n]
    write("nginx-rtmp-live", {"stream.m3u8": "\n".join(lines) + "\n", **segments(names)})


if __name__ == "__main__":
    agora_default()
    agora_correct_extinf()
    agora_backup_failover()
    livekit_event()
    nginx_rtmp_live()
