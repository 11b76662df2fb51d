"""Downloads a Hub file the way Dragonfly's Hugging Face guide configures requests:
a Session whose proxies send http:// traffic to the node. Prints JSON: status, size, sha256."""
import hashlib
import json
import sys

import requests

proxy, url = sys.argv[1], sys.argv[2]
session = requests.Session()
session.proxies = {'http': proxy}
digest = hashlib.sha256()
size = 0
with session.get(url, stream=True, allow_redirects=True, timeout=120) as response:
    for chunk in response.iter_content(chunk_size=1 << 20):
        digest.update(chunk)
        size += len(chunk)
    print(json.dumps({
        'status': response.status_code,
        'size': size,
        'sha256': digest.hexdigest(),
        'history': [r.status_code for r in response.history],
        'task_id': response.headers.get('X-Dragonfly-Task-ID'),
    }))
