"""Writes Event Hub style Azure Activity messages ({"records": [...]}) until --bytes is reached.

Deterministic (seeded) so that runs compare. Records follow the diagnostic-settings shape of
the Activity log: camelCase envelope, identity.claims/authorization, properties.
"""

import argparse
import json
import os
import random

OPERATIONS = [
    "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
    "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
    "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
    "MICROSOFT.KEYVAULT/VAULTS/SECRETS/WRITE",
    "MICROSOFT.WEB/SITES/RESTART/ACTION",
    "MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/SECURITYRULES/WRITE",
]
RESULTS = [("Success", "Succeeded.OK"), ("Start", "Started."), ("Failure", "Failed.Forbidden")]
USERS = [f"user{i:03d}@contoso.com" for i in range(200)]


def record(rng, n):
    op = rng.choice(OPERATIONS)
    result, signature = rng.choice(RESULTS)
    user = rng.choice(USERS)
    provider = op.split("/")[0]
    sub = "00000000-0000-0000-0000-%012d" % rng.randrange(8)
    rid = f"/SUBSCRIPTIONS/{sub}/RESOURCEGROUPS/RG-{rng.randrange(40):02d}/PROVIDERS/{provider}/RES/{n % 5000}"
    day = 1 + (n // 400000) % 28
    return {
        "time": "2026-05-%02dT%02d:%02d:%02d.%07dZ"
        % (day, rng.randrange(24), rng.randrange(60), rng.randrange(60), rng.randrange(10**7)),
        "resourceId": rid,
        "operationName": op,
        "category": "Administrative",
        "resultType": result,
        "resultSignature": signature,
        "durationMs": rng.randrange(5000),
        "callerIpAddress": "203.0.113.%d" % rng.randrange(256),
        "correlationId": "%08x-0000-4000-8000-%012x" % (rng.getrandbits(32), n),
        "identity": {
            "authorization": {
                "scope": rid.lower(),
                "action": op.title(),
                "evidence": {"role": "Contributor", "principalType": "User"},
            },
            "claims": {
                "aud": "https://management.core.windows.net/",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn": user,
                "name": user.split("@")[0],
                "appid": "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
                "http://schemas.microsoft.com/identity/claims/tenantid": "11111111-2222-3333-4444-555555555555",
            },
        },
        "level": "Informational",
        "location": "global",
        "properties": {"statusCode": "OK", "serviceRequestId": "%032x" % rng.getrandbits(128)},
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--bytes", type=int, default=1_100_000_000)
    parser.add_argument("--records-per-message", type=int, default=2000)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = random.Random(42)
    written = 0
    records = 0
    message = 0
    while written < args.bytes:
        batch = [record(rng, records + i) for i in range(args.records_per_message)]
        text = json.dumps({"records": batch}, separators=(",", ":"))
        path = os.path.join(args.out, "message-%05d.json" % message)
        with open(path, "w") as f:
            f.write(text)
        written += len(text)
        records += len(batch)
        message += 1
    print(json.dumps({"files": message, "records": records, "bytes": written}))


if __name__ == "__main__":
    main()
