#!/usr/bin/env python3
"""An independent reader of pidx segment format 2 (docs/FORMAT.md), written from the document
alone: no code of lib/. Used by tests/segment/seg2_cli_test.py to check that it agrees with
`pidx query --json`, which keeps the promise that another language can read an index.

    decode_seg2.py SEGMENT      prints the shard, counts and the first terms
"""
import struct
import sys
import xxhash  # python3-xxhash: XXH3-64, seed 0
import zstandard  # python3-zstandard: doc blocks of codec 1

FOOTER = 176
MAX_RAW_DOC_BLOCK = 16 << 20  # the largest content size a codec-1 doc block may declare
SECTIONS = ["shard name", "term blocks", "block index", "postings", "posting checksums", "docs",
            "doc index"]


class Corrupt(Exception):
    pass


def xxh3(b):
    return xxhash.xxh3_64_intdigest(b)


def varint(buf, pos):
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise Corrupt("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise Corrupt("varint too long")


def roaring(buf):
    """Portable Roaring (RoaringFormatSpec) -> sorted list of ids."""
    cookie = struct.unpack_from("<I", buf, 0)[0]
    pos = 4
    if cookie & 0xFFFF == 12347:
        n = (cookie >> 16) + 1
        runs = buf[pos:pos + (n + 7) // 8]
        pos += (n + 7) // 8
        is_run = [bool(runs[i // 8] >> (i % 8) & 1) for i in range(n)]
    elif cookie == 12346:
        n = struct.unpack_from("<I", buf, pos)[0]
        pos += 4
        is_run = [False] * n
    else:
        raise Corrupt("bad Roaring cookie")
    keys = []
    for _ in range(n):
        key, card = struct.unpack_from("<HH", buf, pos)
        keys.append((key, card + 1))
        pos += 4
    if cookie == 12346 or n >= 4:
        pos += 4 * n  # offsets
    ids = []
    for (key, card), run in zip(keys, is_run):
        base = key << 16
        if run:
            nruns = struct.unpack_from("<H", buf, pos)[0]
            pos += 2
            for _ in range(nruns):
                start, length = struct.unpack_from("<HH", buf, pos)
                pos += 4
                ids.extend(base + v for v in range(start, start + length + 1))
        elif card <= 4096:
            ids.extend(base + v for v in struct.unpack_from("<%dH" % card, buf, pos))
            pos += 2 * card
        else:
            words = struct.unpack_from("<1024Q", buf, pos)
            pos += 8192
            for w, word in enumerate(words):
                while word:
                    low = word & -word
                    ids.append(base + w * 64 + low.bit_length() - 1)
                    word ^= low
    if pos != len(buf):
        raise Corrupt("Roaring list does not fill its bytes")
    return ids


def inflate(frame):
    """A codec-1 doc block: one zstd frame that declares its content size (at most 16 MiB) and
    decompresses to exactly that many bytes."""
    if frame[:4] != b"\x28\xb5\x2f\xfd":
        raise Corrupt("doc block is not a zstd frame")
    try:
        size = zstandard.get_frame_parameters(frame).content_size
        if size == zstandard.CONTENTSIZE_UNKNOWN or size > MAX_RAW_DOC_BLOCK:
            raise Corrupt("doc block declares no content size, or too large a one")
        d = zstandard.ZstdDecompressor().decompressobj()
        raw = d.decompress(frame)
    except zstandard.ZstdError as e:
        raise Corrupt("doc block: zstd: %s" % e)
    if not d.eof or d.unused_data or len(raw) != size:
        raise Corrupt("doc block is not one zstd frame of its declared size")
    return raw


class Segment:
    def __init__(self, data):
        self.data = data
        if data[:8] != b"PIDXSEG1" or struct.unpack_from("<I", data, 8)[0] != 2:
            raise Corrupt("not a format-2 segment")
        f = len(data) - FOOTER
        if data[f + 160:f + 168] != b"PIDXEND1":
            raise Corrupt("bad footer magic")
        if xxh3(data[:f + 168]) != struct.unpack_from("<Q", data, f + 168)[0]:
            raise Corrupt("checksum mismatch")
        self.sections = []
        for i in range(7):
            off, size = struct.unpack_from("<QQ", data, f + 16 * i)
            self.sections.append(data[off:off + size])
        (self.docs, self.terms, self.postings, self.term_block, self.doc_block, self.chunk,
         self.fields, self.inline_max, self.doc_codec) = struct.unpack_from("<IIQIIIIII", data,
                                                                             f + 112)
        if struct.unpack_from("<I", data, 12)[0]:
            raise Corrupt("reserved field set")
        if self.doc_codec not in (0, 1):
            raise Corrupt("unknown doc_codec %d" % self.doc_codec)
        meta = data[:16] + b"".join(self.sections[i] for i in (0, 2, 4, 6)) + data[f:f + 152]
        if xxh3(meta) != struct.unpack_from("<Q", data, f + 152)[0]:
            raise Corrupt("meta checksum mismatch")
        name = self.sections[0]
        self.shard = name[4:4 + struct.unpack_from("<I", name, 0)[0]].decode()

    def dictionary(self):
        """Yields (term bytes, ids) for every term, in order."""
        index, blocks, postings = self.sections[2], self.sections[1], self.sections[3]
        for c in range(0, len(postings), self.chunk):
            want = struct.unpack_from("<Q", self.sections[4], 8 * (c // self.chunk))[0]
            if xxh3(postings[c:c + self.chunk]) != want:
                raise Corrupt("posting chunk checksum mismatch")
        pos, at, left = 0, 0, self.terms
        while left:
            checksum = struct.unpack_from("<Q", index, pos)[0]
            size, pos = varint(index, pos + 8)
            first_len, pos = varint(index, pos)
            first = index[pos:pos + first_len]
            pos += first_len
            block = blocks[at:at + size]
            at += size
            if xxh3(block) != checksum:
                raise Corrupt("term block checksum mismatch")
            p, term = 0, b""
            roaring_at, p = varint(block, p)
            for k in range(min(left, self.term_block)):
                shared, p = varint(block, p)
                n, p = varint(block, p)
                term = term[:shared] + block[p:p + n]
                p += n
                if k == 0 and term != first:
                    raise Corrupt("block index first term differs")
                df, p = varint(block, p)
                if df <= self.inline_max:
                    ids, prev = [], 0
                    for j in range(df):
                        v, p = varint(block, p)
                        prev = v if j == 0 else prev + v
                        ids.append(prev)
                else:
                    length, p = varint(block, p)
                    ids = roaring(postings[roaring_at:roaring_at + length])
                    roaring_at += length
                if len(ids) != df:
                    raise Corrupt("df differs from the list")
                yield term, ids
            left -= min(left, self.term_block)

    def doc_records(self):
        """Yields (external id, title, content hash, field hashes) in local doc id order."""
        index, docs = self.sections[6], self.sections[5]
        pos, at, left = 0, 0, self.docs
        while left:
            checksum = struct.unpack_from("<Q", index, pos)[0]
            size, pos = varint(index, pos + 8)
            block = docs[at:at + size]
            at += size
            if xxh3(block) != checksum:
                raise Corrupt("doc block checksum mismatch")
            if self.doc_codec == 1:
                block = inflate(block)
            p = 0
            for _ in range(min(left, self.doc_block)):
                n, p = varint(block, p)
                ext = block[p:p + n].decode()
                p += n
                n, p = varint(block, p)
                title = block[p:p + n].decode()
                p += n
                h = struct.unpack_from("<Q", block, p)[0]
                p += 8
                fields = list(struct.unpack_from("<%dH" % self.fields, block, p))
                p += 2 * self.fields
                yield ext, title, h, fields
            if p != len(block):
                raise Corrupt("doc block has bytes after its records")
            left -= min(left, self.doc_block)


def main():
    seg = Segment(open(sys.argv[1], "rb").read())
    print(seg.shard, seg.docs, "docs", seg.terms, "terms", seg.postings, "postings")
    for i, (term, ids) in enumerate(seg.dictionary()):
        if i == 10:
            break
        print(term.decode(errors="replace"), ids[:10])


if __name__ == "__main__":
    main()
