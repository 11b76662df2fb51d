"""Downloads a whole repo the way huggingface_hub 1.x `snapshot_download` decides, on httpx:

1. `GET {endpoint}/api/models/{repo}/revision/{rev}` for the commit;
2. `GET {endpoint}/api/models/{repo}/tree/{commit}?recursive=true`, following `Link: rel="next"`
   pages (this listing is what 1.x caches under `trees/{commit}.json`);
3. per file, as `_xet_file_metadata_from_tree_cache` and `_get_metadata_or_catch_error` do with
   hf_xet installed: an entry with `xetHash`, `lfs.oid` and `lfs.size` skips the HEAD and goes to
   Xet (a token from `/api/models/{repo}/xet-read-token/{commit}`, then Xet's CAS, which this
   client does not reach); otherwise a HEAD of `/resolve/{commit}/{path}` following relative
   redirects only: `X-Xet-Hash` with a `xet-auth` link or `X-Xet-Refresh-Route` also means Xet;
   else a GET of the HEAD's `Location` (or the URL itself), redirects followed.

usage: hf1_snapshot.py endpoint|proxy ENDPOINT REPO [REVISION]

`endpoint`: ENDPOINT is HF_ENDPOINT (the node), no proxy from the environment. `proxy`: ENDPOINT is
the Hub itself, reached through HTTPS_PROXY with SSL_CERT_FILE trusted (httpx's trust_env, as
huggingface_hub 1.x uses it). Prints JSON.
"""
import hashlib
import json
import sys
from urllib.parse import urlparse

import httpx


def head_following_relative(client, url):
    response = client.head(url, headers={'accept-encoding': 'identity'}, follow_redirects=False)
    if 300 <= response.status_code <= 399:
        target = urlparse(response.headers['location'])
        if target.netloc == '':
            return head_following_relative(client, urlparse(url)._replace(path=target.path).geturl())
    return response


def xet_token(client, url):
    return client.get(url).status_code


def main(argv):
    mode, endpoint, repo = argv[1], argv[2].rstrip('/'), argv[3]
    revision = argv[4] if len(argv) > 4 else 'main'
    client = httpx.Client(trust_env=(mode == 'proxy'), timeout=120)
    info = client.get(f'{endpoint}/api/models/{repo}/revision/{revision}')
    info.raise_for_status()
    commit = info.json()['sha']
    entries, pages = [], 0
    url = f'{endpoint}/api/models/{repo}/tree/{commit}?recursive=true'
    while url is not None:
        page = client.get(url)
        page.raise_for_status()
        pages += 1
        entries.extend(page.json())
        url = page.links.get('next', {}).get('url')
    result = {'commit': commit, 'pages': pages, 'listing_has_xet_hash': any('xetHash' in e for e in entries), 'files': []}
    for entry in entries:
        if entry['type'] != 'file':
            continue
        path, lfs = entry['path'], entry.get('lfs') or {}
        record = {'path': path}
        if entry.get('xetHash') and lfs.get('oid') and lfs.get('size') is not None:
            record.update({'via': 'xet', 'token_status': xet_token(client, f'{endpoint}/api/models/{repo}/xet-read-token/{commit}')})
            result['files'].append(record)
            continue
        url = f'{endpoint}/{repo}/resolve/{commit}/{path}'
        head = head_following_relative(client, url)
        record['head_status'] = head.status_code
        refresh = head.headers.get('x-xet-refresh-route') or head.links.get('xet-auth', {}).get('url')
        if head.headers.get('x-xet-hash') and refresh:
            record.update({'via': 'xet', 'token_status': xet_token(client, refresh if refresh.startswith('http') else endpoint + refresh)})
            result['files'].append(record)
            continue
        location = head.headers.get('location') or url
        digest, received = hashlib.sha256(), 0
        with client.stream('GET', location, follow_redirects=True) as response:
            for chunk in response.iter_bytes(1 << 20):
                digest.update(chunk)
                received += len(chunk)
            record.update({'via': 'http', 'get_status': response.status_code, 'received': received, 'sha256': digest.hexdigest()})
        result['files'].append(record)
    print(json.dumps(result))


if __name__ == '__main__':
    main(sys.argv)
