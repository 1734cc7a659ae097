"""Deployment behind nginx: the site configuration for the current settings
(`gridmap deploy nginx`), the one `deploy/nginx/gridmap.conf` is an example of.

The body limit is the service's own (`GRIDMAP_MAX_BODY_BYTES`), so nginx refuses what the
service would refuse anyway, before buffering it; imports get long timeouts; the service
learns the caller's scheme, host and address from `X-Forwarded-*` (uvicorn trusts them from
127.0.0.1) and the request id nginx logs from `X-Request-ID`.

    >>> print(nginx_site(server_name="grid.example.cn", root_path="/gridmap"))  # doctest: +SKIP
"""

from __future__ import annotations

from geo.core.settings import get_settings

#: what nginx compresses itself (the service also does, above GRIDMAP_GZIP_MIN_BYTES)
GZIP_TYPES = (
    "application/json application/geo+json application/problem+json "
    "application/schema+json application/vnd.oai.openapi+json text/css text/csv "
    "application/javascript image/svg+xml"
)


def _location(path: str, upstream: str, root_path: str) -> str:
    # `proxy_pass` with a URI ("/") strips the sub-path; the service adds it back to links
    target = f"http://{upstream}/" if root_path else f"http://{upstream}"
    return f"""    location {path} {{
        proxy_pass {target};
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Request-ID $request_id;
        proxy_set_header Connection "";
        # bulk imports and boundary edits re-attach many rows: minutes, not seconds
        proxy_connect_timeout 10s;
        proxy_send_timeout 600s;
        proxy_read_timeout 600s;
        proxy_request_buffering off;
    }}
"""


def nginx_site(
    server_name: str = "_",
    upstream: str | None = None,
    root_path: str | None = None,
    listen: str = "443 ssl",
    certificate: str | None = "/etc/ssl/gridmap/fullchain.pem",
    certificate_key: str | None = "/etc/ssl/gridmap/privkey.pem",
    max_body_bytes: int | None = None,
) -> str:
    """An nginx `server` block (plus an HTTP→HTTPS redirect when `listen` is TLS) for the
    service at `upstream` (default 127.0.0.1:GRIDMAP_PORT) under `root_path`."""
    settings = get_settings()
    upstream = upstream or f"127.0.0.1:{settings.port}"
    root = (settings.root_path if root_path is None else root_path).rstrip("/")
    body = max_body_bytes or settings.max_body_bytes
    tls = "ssl" in listen.split()
    lines = []
    if tls:
        lines.append(
            f"server {{\n    listen 80;\n    server_name {server_name};\n"
            f"    return 301 https://$host$request_uri;\n}}\n"
        )
    lines.append("server {")
    lines.append(f"    listen {listen};")
    lines.append(f"    server_name {server_name};")
    if tls:
        lines += [
            f"    ssl_certificate {certificate};",
            f"    ssl_certificate_key {certificate_key};",
            "    ssl_protocols TLSv1.2 TLSv1.3;",
            "    ssl_session_cache shared:gridmap_tls:10m;",
            '    add_header Strict-Transport-Security "max-age=31536000" always;',
        ]
    lines += [
        f"    # GRIDMAP_MAX_BODY_BYTES = {body:,} bytes",
        f"    client_max_body_size {body};",
        "    gzip on;",
        "    gzip_proxied any;",
        "    gzip_min_length 1024;",
        "    gzip_vary on;",
        f"    gzip_types {GZIP_TYPES};",
        "",
    ]
    out = "\n".join(lines) + "\n"
    if root:
        out += (
            f"    location = {root} {{\n        return 301 $scheme://$http_host{root}/;\n    }}\n"
        )
        out += _location(f"{root}/", upstream, root)
    else:
        out += _location("/", upstream, "")
    return out + "}\n"
