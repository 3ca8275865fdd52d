#!/usr/bin/env python3
"""Checks Roster's answers to Q1, Q2, Q3 and M1 against the dataset's formula (DATASET.md).

    verify.py URL TOKEN USERS PROFILES LINKS_PER_USER

Exits non-zero, saying what differs, at the first wrong answer.
"""
import base64
import json
import sys
import urllib.request
from pathlib import Path

url, token, users, profiles, links = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
queries = Path(__file__).parent / "queries"


def ask(name):
    body = json.dumps({"query": (queries / f"{name}.graphql").read_text()}).encode()
    request = urllib.request.Request(url, body, {
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request) as response:
        answer = json.load(response)
    if "errors" in answer:
        sys.exit(f"{name}: errors: {answer['errors']}")
    return answer["data"]


def gid(kind, key):
    return base64.b64encode(f"{kind}:{key}".encode()).decode()


def profiles_of(i):
    return sorted(((i * 7 + t * 131) % profiles) + 1 for t in range(links))


users_of = {}
for i in range(1, users + 1):
    for j in profiles_of(i):
        users_of.setdefault(j, []).append(i)


def user(i):
    return {"id": gid("User", i), "email": f"user{i}@example.com"}


def profile(j, first):
    return {"id": gid("Profile", j), "name": f"Profile {j}",
            "users": {"nodes": [user(i) for i in users_of.get(j, [])[:first]]}}


def check(name, got, expected):
    if got != expected:
        sys.exit(f"{name}: wrong answer\n got: {json.dumps(got)[:600]}\nwant: {json.dumps(expected)[:600]}")
    print(f"{name}: answer checked")


check("q1", ask("q1"), {"users": {"nodes": [
    {**user(i), "profiles": {"nodes": [profile(j, 10) for j in profiles_of(i)[:10]]}}
    for i in range(1, min(50, users) + 1)]}})
check("q2", ask("q2"), {"profile": {"id": gid("Profile", 42), "name": "Profile 42", "users": {
    "nodes": [user(i) for i in users_of.get(42, [])[:100]]}}})
check("q3", ask("q3"), {"user": {**user(4242), "profiles": {
    "nodes": [profile(j, 5) for j in profiles_of(4242)]}}})
check("m1", ask("m1"), {"link": {"changed": True}, "unlink": {"changed": True}})
