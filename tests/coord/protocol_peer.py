#!/usr/bin/env python3
"""A second, independent implementation of the coordinator's wire format (from the
documentation in src/coord/protocol.hpp, not from its code), used as a test peer.

  protocol_peer.py oracle PORT DIR   random per-rank predictions of 3 ranks are reported
                                     as run "oracle"; the coordinator's metrics line is
                                     then checked against scikit-learn on all predictions.
  protocol_peer.py hostile PORT RUN  Hellos a hostile local user could send for someone
                                     else's run (no, wrong or guessed run secret; a fresh
                                     start; other world sizes): each must be refused.
"""
import json
import math
import random
import socket
import struct
import sys
import time

MAGIC, VERSION = 0x43524546, 2
RUN_SECRET = "python-peer-run-secret-0123456789"
HELLO, EVAL_REPORT, ACK = 1, 3, 9


def string(text):
    data = text.encode()
    return struct.pack("<I", len(data)) + data


def frame(kind, payload):
    return struct.pack("<IHHII", MAGIC, VERSION, kind, len(payload), 0) + payload


def hello(seq, run, rank, world, secret=RUN_SECRET, resume_epoch=None):
    if resume_epoch is None:
        resume_epoch = 0 if rank == 0 else -1
    payload = (struct.pack("<Q", seq) + string(run) + struct.pack("<II", rank, world) +
               string("python") + struct.pack("<I", 4242) + string("cfg") + string("") +
               struct.pack("<i", resume_epoch) + string("") + string(secret) +
               struct.pack("<Iii", 0, 0, 0) + string(""))
    return frame(HELLO, payload)


def eval_report(seq, split, epoch, rank, counts, loss_sum, samples, extra=""):
    classes = int(math.isqrt(len(counts)))
    payload = (struct.pack("<Q", seq) + string(split) + struct.pack("<iII", epoch, rank, classes) +
               struct.pack("<I", len(counts)) + struct.pack("<%dq" % len(counts), *counts) +
               struct.pack("<dq", loss_sum, samples) + string(extra))
    return frame(EVAL_REPORT, payload)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("the coordinator closed the connection")
        data += chunk
    return data


def read_ack(sock):
    magic, version, kind, length, reserved = struct.unpack("<IHHII", read_exact(sock, 16))
    assert (magic, version, kind, reserved) == (MAGIC, VERSION, ACK, 0), (magic, version, kind)
    payload = read_exact(sock, length)
    seq, status = struct.unpack_from("<QB", payload)
    at = 9
    (n,) = struct.unpack_from("<I", payload, at)
    message = payload[at + 4:at + 4 + n].decode()
    at += 4 + n
    (n,) = struct.unpack_from("<I", payload, at)
    detail = payload[at + 4:at + 4 + n].decode()
    assert at + 4 + n == length, "trailing bytes in an Ack"
    return seq, status, message, json.loads(detail) if detail else None


def oracle(port, directory):
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
    rng = random.Random(11)
    world, classes = 3, 7
    truth_all, predicted_all, loss_all = [], [], 0.0
    socks = []
    for rank in range(world):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(hello(1, "oracle", rank, world))
        assert read_ack(sock)[1] == 0, "Hello refused"
        socks.append(sock)
    for rank, sock in enumerate(socks):
        n = 200 + 91 * rank
        # Class 1 ("disgust") is rare, and nothing is ever predicted as class 5: the
        # zero-division conventions are exercised too.
        truth = [rng.choice([0, 0, 1, 2, 3, 3, 3, 4, 5, 6]) for _ in range(n)]
        predicted = [t if rng.random() < 0.55 else rng.choice([0, 2, 3, 4, 6]) for t in truth]
        predicted = [p if p != 5 else 6 for p in predicted]
        counts = [0] * (classes * classes)
        for t, p in zip(truth, predicted):
            counts[t * classes + p] += 1
        loss = rng.uniform(100, 200)
        truth_all += truth
        predicted_all += predicted
        loss_all += loss
        sock.sendall(eval_report(2, "val", 1, rank, counts, loss, n))
    acks = [read_ack(s) for s in socks]
    assert all(a[1] == 0 for a in acks), acks
    assert sum(1 for a in acks if a[3].get("aggregated")) == 1, "exactly one report completes the set"
    line = [json.loads(l) for l in open(directory + "/oracle/metrics.jsonl")][-1]
    labels = list(range(classes))
    p, r, f, s = precision_recall_fscore_support(truth_all, predicted_all, labels=labels,
                                                 zero_division=0)
    checks = {"val_accuracy": accuracy_score(truth_all, predicted_all),
              "val_loss": loss_all / len(truth_all)}
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(truth_all, predicted_all, labels=labels,
                                                        average=avg, zero_division=0)
        checks.update({"val_%s_precision" % avg: ap, "val_%s_recall" % avg: ar,
                       "val_%s_f1" % avg: af})
    for key, want in checks.items():
        assert abs(line[key] - want) < 1e-12, "%s: coordinator %r, scikit-learn %r" % (key, line[key], want)
    for c in labels:
        got = line["val_per_class"][c]
        for key, want in (("precision", p[c]), ("recall", r[c]), ("f1", f[c])):
            assert abs(got[key] - want) < 1e-12, "class %d %s: %r vs %r" % (c, key, got[key], want)
        assert got["support"] == s[c]
    matrix = confusion_matrix(truth_all, predicted_all, labels=labels).flatten().tolist()
    assert line["val_confusion_matrix"] == matrix, "confusion matrix differs"
    assert line["ranks"] == world and line["val_images"] == len(truth_all)
    print("oracle: %d images from %d ranks; accuracy %.4f, macro F1 %.4f match scikit-learn" %
          (len(truth_all), world, line["val_accuracy"], line["val_macro_f1"]))


def hostile(port, run):
    refused = 0
    for secret in ("", "guess", "0" * 32, RUN_SECRET):
        for world, resume in ((1, 0), (2, 0), (1, 1), (2, -1)):
            for rank in (0, 1) if world == 2 else (0,):
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                sock.sendall(hello(1, run, rank, world, secret, resume))
                seq, status, message, _ = read_ack(sock)
                assert status == 1, "accepted: secret %r world %d rank %d resume %d" % (
                    secret, world, rank, resume)
                assert "secret" in message, message
                refused += 1
                sock.close()
    print("hostile: %d Hellos for run %s refused" % (refused, run))


if __name__ == "__main__":
    if sys.argv[1] == "oracle":
        oracle(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "hostile":
        hostile(int(sys.argv[2]), sys.argv[3])
    else:
        sys.exit("usage: protocol_peer.py oracle PORT DIR | hostile PORT RUN")
