"""Downloads one Hub file the way huggingface_hub's hf_hub_download does (0.x on requests, 1.x on
httpx follow the same steps): a HEAD of the resolve URL that follows only relative redirects, the
metadata read from X-Repo-Commit / X-Linked-Etag / X-Linked-Size, then a streamed GET of the
HEAD's Location, or of the URL itself when there is none.

usage: hf_flow_download.py endpoint ENDPOINT REPO REVISION PATH
       hf_flow_download.py adapter PROXY HUB REPO REVISION PATH

`endpoint` is HF_ENDPOINT pointed at the node. `adapter` is Dragonfly's guide: the real Hub URL, a
requests Session whose adapter downgrades CDN URLs to http:// and whose proxies send http:// to the
node. HF_TOKEN, when set, is sent as the Hub does. Prints JSON.
"""
import hashlib
import json
import os
import sys
from urllib.parse import urlparse

import requests
from requests.adapters import HTTPAdapter


class DragonflyAdapter(HTTPAdapter):
    """The adapter of Dragonfly's Hugging Face guide, pointed at whatever CDN the Hub names."""

    def get_connection(self, url, proxies=None):
        if url.startswith('https://'):
            url = url.replace('https://', 'http://', 1)
        return super().get_connection(url, proxies)


def session_for(mode, proxy):
    session = requests.Session()
    if mode == 'adapter':
        session.mount('http://', DragonflyAdapter())
        session.mount('https://', DragonflyAdapter())
        session.proxies = {'http': proxy}
    return session


def head_following_relative(session, url, headers):
    response = session.head(url, headers=headers, allow_redirects=False, timeout=30)
    if 300 <= response.status_code <= 399:
        target = urlparse(response.headers['Location'])
        if target.netloc == '':
            return head_following_relative(session, urlparse(url)._replace(path=target.path).geturl(), headers)
    return response


def main(argv):
    mode = argv[1]
    if mode == 'endpoint':
        proxy, (endpoint, repo, revision, path) = None, argv[2:6]
    else:
        proxy, (endpoint, repo, revision, path) = argv[2], argv[3:7]
    headers = {'user-agent': 'huggingface_hub/0.x damselfly-test'}
    token = os.environ.get('HF_TOKEN')
    if token:
        headers['authorization'] = f'Bearer {token}'
    session = session_for(mode, proxy)
    url = f'{endpoint}/{repo}/resolve/{revision}/{path}'
    head = head_following_relative(session, url, headers)
    result = {'head_status': head.status_code, 'error_code': head.headers.get('X-Error-Code')}
    if head.status_code >= 400:
        print(json.dumps(result))
        return
    location = head.headers.get('Location') or head.request.url
    result.update({
        'location': location,
        'commit': head.headers.get('X-Repo-Commit'),
        'etag': head.headers.get('X-Linked-Etag') or head.headers.get('ETag'),
        'size': int(head.headers.get('X-Linked-Size') or head.headers.get('Content-Length') or -1),
        'xet_hash': head.headers.get('X-Xet-Hash'),
    })
    get_headers = dict(headers)
    if urlparse(location).netloc != urlparse(url).netloc:
        get_headers.pop('authorization', None)  # the Hub's token never goes to the CDN
    digest = hashlib.sha256()
    received = 0
    with session.get(location, headers=get_headers, stream=True, timeout=120) as response:
        for chunk in response.iter_content(chunk_size=1 << 20):
            digest.update(chunk)
            received += len(chunk)
        result.update({'get_status': response.status_code, 'received': received, 'sha256': digest.hexdigest()})
    print(json.dumps(result))


if __name__ == '__main__':
    main(sys.argv)
