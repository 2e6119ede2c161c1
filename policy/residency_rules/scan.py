"""One pass over a resource's inputs: every account, region, endpoint and bucket they name.

The three perimeters (identity, network, region) all ask what a resource's
inputs point at, wherever it is written: a field of its own, an ARN, a URL, a
hostname, an e-mail address, a bucket name, or a JSON document inside a string
(IAM and resource policies, state machine and pipeline definitions, container
definitions, provider inputs the engine JSON-encodes). So one scanner reads
every string once and returns *hits*: the things a perimeter must decide on.
What is provably the site's (its accounts, its region, in-region AWS names)
is dropped here; what needs the whole stack to decide (is this bucket one of
the program's? is this VPC endpoint id the site's?) is kept for the rules.

Speed: strings are split into words by one C-level regex, and only words that
can be a token (a dot, ``arn:``, ``://``, ``@``, a 12-digit number, a region-like
word) are looked at; results are cached per (string, key kind) for each site,
and per resource for the policies that share them.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import ipaddress
import json
import re
import urllib.parse
from typing import Any, NamedTuple

from .aws_names import REGION_TOKEN_RE, host_info
from .site import Site
from .values import _PROXIES, _UNKNOWN_SENTINELS, is_set, is_unknown, words

_UNKNOWN_STRINGS = _UNKNOWN_SENTINELS

# --------------------------------------------------------------------------- hits


class Hit(NamedTuple):
    """Something a resource's inputs name that a perimeter must decide on."""

    kind: str
    prop: str
    """The top-level input it was found under."""
    value: str
    """The account, region, host, bucket... it names."""
    token: str
    """The text it was found in (an ARN, a URL, a word)."""
    effect: str | None = None
    """``Allow``/``Deny`` when inside a policy statement; None elsewhere."""
    detail: Any = None


ACCOUNT = "account"  # a 12-digit account outside the site (value: the account)
ANY_ACCOUNT = "any-account"  # an ARN whose account is a wildcard
ORG = "organization"  # an AWS Organizations id, OU or path: admits accounts beyond the site's
REGION = "region"  # another region (detail: "arn" | "host" | "url" | "word" | "key")
REGION_UNKNOWN = "region-unknown"  # a region-naming input unknown at preview
REGION_SWITCH = "region-switch"  # a multi-/cross-/all-region switch that is on
GLOBAL_MEMBER = "global-member"  # membership of a global (multi-region) cluster or group
PROFILE = "profile"  # a cross-region (global or geographic) Bedrock inference profile
BUCKET = "bucket"  # an S3 bucket the stack must prove is the site's
BUCKET_UNKNOWN = "bucket-unknown"  # a bucket-naming input unknown at preview (resolved by its dependencies)
URL = "url"  # a URL to a host outside AWS (detail: scheme)
HOST = "host"  # a bare hostname outside AWS in an endpoint-like place
GLOBAL_ENDPOINT = "global-endpoint"  # an AWS endpoint with no region (served from us-east-1 or the edge)
EDGE = "edge"  # an AWS edge-network name (CloudFront, Global Accelerator)
EMAIL = "email"  # an e-mail address (SMTP out)
PUBLIC_IP = "public-ip"  # a public IP address literal
HTTP_TASK = "http-task"  # arn:aws:states:::http:invoke - a state machine task that calls any HTTPS endpoint
API_DESTINATION = "api-destination"  # an EventBridge API destination: events to an HTTP endpoint
PUBLIC_SWITCH = "public-switch"  # associatePublicIpAddress/assignPublicIp/... on (or unknown)
STAR = "star-principal"  # an Allow statement for Principal "*" (detail: (sid, conditions))
UNREADABLE = "unreadable"  # an input that hides its content (undecodable base64 user data)

# --------------------------------------------------------------------------- key kinds

PLAIN, ENDPOINT, BUCKET_KEY, SKIP, REGION_KEY, PUBLIC_KEY, GLOBAL_KEY = range(7)

# Keys whose values are labels, not addresses: AWS never resolves or sends to a
# description, a tag or a resource's own name, so a token there moves nothing
# (residency-tags checks tags on their own).
COSMETIC_KEYS = frozenset(
    {"description", "tags", "tagsAll", "name", "namePrefix", "displayName", "comment", "alarmDescription", "title"}
    # Credentials are secrets, not addresses (a password may well look like an e-mail address).
    | {"password", "masterPassword", "masterUserPassword", "adminUserPassword", "authToken", "secretKey"}
    # A resource's own DNS names (a certificate's, a custom domain's): names it answers to, not destinations.
    | {"domainName", "subjectAlternativeNames"}
)
# Inputs that carry scripts base64-encoded (EC2 user data, SageMaker lifecycle scripts): decoded before scanning.
_BASE64_KEYS = ("userData", "onCreate", "onStart")
_ENDPOINT_WORDS = frozenset(
    {"endpoint", "endpoints", "url", "urls", "uri", "uris", "host", "hostname", "hosts", "server", "servers"}
    | {"webhook", "callback", "fqdn", "upstream"}
)
# A key whose last word qualifies the endpoint word names a property of it, not an address:
# hostInstanceType ("mq.m5.large"), endpointType, serverCertificateArn, urlSuffix...
_QUALIFIER_WORDS = frozenset({"type", "types", "class", "size", "count", "mode", "version", "suffix", "arn", "id"})
_BUCKET_LAST = frozenset({"bucket", "name", "id", "buckets", "arn"})
_PUBLIC_KEYS = frozenset(
    {"associatePublicIpAddress", "mapPublicIpOnLaunch", "assignPublicIp", "assignIpv6AddressOnCreation"}
    | {"mapCustomerOwnedIpOnLaunch", "publiclyAccessible", "associateCarrierIpAddress"}
)
_KEY_KINDS: dict[str, int] = {}


def key_kind(key: str) -> int:
    kind = _KEY_KINDS.get(key)
    if kind is None:
        ws = words(key)
        if key in COSMETIC_KEYS:
            kind = SKIP
        elif key in _PUBLIC_KEYS:
            kind = PUBLIC_KEY
        elif "global" in ws and ws[-1] in ("identifier", "id", "name", "arn"):
            kind = GLOBAL_KEY
        elif "region" in ws or "regions" in ws:
            kind = REGION_KEY
        elif (
            "bucket" in ws
            and ws[-1] in _BUCKET_LAST
            and not _ENDPOINT_WORDS.intersection(ws)
            and not {"domain", "account", "owner", "region"}.intersection(ws)
        ):
            kind = BUCKET_KEY
        elif _ENDPOINT_WORDS.intersection(ws) and ws[-1] not in _QUALIFIER_WORDS:
            kind = ENDPOINT
        else:
            kind = PLAIN
        _KEY_KINDS[key] = kind
    return kind


# --------------------------------------------------------------------------- words of a string

_SPLIT = re.compile(r"[^\s\"'\[\]{}(),;\\<>|`^]+")
_ARN = re.compile(r"^arn:(aws[a-z-]*):([a-z0-9-]*):([^:]*):([^:]*):(.*)$")
_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/@\s]*@)?(\[[0-9A-Fa-f:.]+\]|[^/:?#\s]+)(?::\d+)?([^?#\s]*)")
_EMAIL = re.compile(r"^(?:mailto:)?[A-Za-z0-9._%+-]+@((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})$")
_HOST = re.compile(r"^((?:[a-z0-9_](?:[a-z0-9_-]*[a-z0-9])?\.)+[a-z][a-z0-9-]*[a-z0-9])\.?(?::\d{1,5})?(?:/.*)?$")
_IPV6 = re.compile(r"[0-9A-Fa-f:]*::?[0-9A-Fa-f:.]*")
_IP = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?$")
# A cross-region inference profile id: "<geography>.<provider>.<model>" (AWS Bedrock user guide,
# "Supported Regions and models for inference profiles"); the geography prefix routes requests
# to any of several regions, so none is provably the site's.
_PROFILE = re.compile(
    r"(?:^|/)((global|us|eu|apac|jp|au|ca|us-gov)\.(?:amazon|anthropic|meta|mistral|cohere|deepseek|ai21"
    r"|stability|writer|twelvelabs|openai|qwen|luma|nvidia|google|minimax|moonshot|moonshotai|zai)\.[A-Za-z0-9._:-]+)"
)
_ORG = re.compile(r"(?:^|/)(o-[a-z0-9]{10,32}|ou-[a-z0-9]{4,32}-[a-z0-9]{8,32})(?:/|$)")
_JSON_BUCKET = re.compile(r'"(?:[Bb]ucket|[Bb]ucketName|[Ss]3Bucket|[Ss]3BucketName)"\s*:\s*"([^"\\]+)"')
_JSON_PUBLIC = re.compile(
    r'"(?:[Aa]ssignPublicIp|[Aa]ssociatePublicIpAddress|[Mm]apPublicIpOnLaunch|[Pp]ubliclyAccessible)"\s*:\s*'
    r'(?:"ENABLED"|true)'
)
_S3_SCHEMES = frozenset({"s3", "s3a", "s3n"})
# A word that may be encoded text: base64 (standard or URL-safe alphabet, padded to whole quanta) or
# percent-encoding. Programs hide URLs and JSON that way in environment variables and parameters
# (``base64.b64encode(json.dumps(config))``, ``urllib.parse.quote(url)``): the decoded text is read too.
_BASE64_WORD = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")

Raw = tuple  # (kind, value, token, detail)


def _arn(word: str, site: Site, out: list) -> None:
    m = _ARN.match(word)
    if m is None:
        return
    _partition, service, region, account, resource = m.groups()
    if region and region != site.region and "*" not in region and "?" not in region:
        out.append((REGION, region, word, "arn"))
    if len(account) == 12 and account.isdigit():
        if account not in site.accounts and account not in site.trusted_anywhere:
            out.append((ACCOUNT, account, word, "arn"))
    elif account and account != "aws" and ("*" in account or "?" in account):
        out.append((ANY_ACCOUNT, account, word, "arn"))
    if service == "s3" and not region and not account:
        bucket = resource.split("/", 1)[0]
        if bucket and "*" not in bucket and "?" not in bucket and "$" not in bucket:
            out.append((BUCKET, bucket, word, "arn"))
    elif service == "states" and resource.startswith("http:"):
        out.append((HTTP_TASK, resource, word, None))
    elif service == "events" and resource.startswith("api-destination/"):
        out.append((API_DESTINATION, resource, word, None))
    elif service == "organizations" and resource.startswith(("ou/", "organization/", "root/")):
        out.append((ORG, resource.rsplit("/", 1)[-1], word, None))
    profile = _PROFILE.search(resource) if "." in resource else None
    if profile:
        out.append((PROFILE, profile.group(1), word, profile.group(2)))


def _host(host: str, word: str, endpointy: bool, url: str | None, site: Site, out: list) -> None:
    """Hits for one hostname: ``url`` is the URL's scheme when it came in one."""
    info = host_info(host)
    if info.ip is not None:
        if info.ip.is_global:
            out.append((PUBLIC_IP, str(info.ip), word, url))
        return
    origin = "url" if url else "host"
    foreign = tuple(r for r in info.regions if r != site.region)
    for region in foreign:
        out.append((REGION, region, word, origin if (url or endpointy) else "name"))
    for account in info.accounts:
        if account not in site.accounts and account not in site.trusted_anywhere:
            out.append((ACCOUNT, account, word, "host"))
    if info.aws:
        # "<name>.s3.amazonaws.com" is also how S3's service principals look (logging.s3.amazonaws.com):
        # a bucket only as a URL, under an endpoint-like key, or in the regional form.
        if info.s3_bucket and (url or endpointy or info.regions):
            out.append((BUCKET, info.s3_bucket, word, "host"))
        if info.edge:
            out.append((EDGE, host, word, url))
        elif not info.regions and (url or endpointy):
            out.append((GLOBAL_ENDPOINT, host, word, url))
        return
    if info.internal or foreign:
        return  # a name inside a network; another region's name is already a hit
    if url:
        out.append((URL, host, word, url))
    elif endpointy or info.public_tld:
        out.append((HOST, host, word, None))


def _word(word: str, kind: int, in_doc: bool, site: Site, out: list) -> None:
    if word.startswith("arn:"):
        _arn(word, site, out)
        return
    if "://" in word:
        for m in _URL.finditer(word):
            scheme, host, path = m.group(1).lower(), m.group(2).lower(), m.group(3)
            if scheme in _S3_SCHEMES:
                out.append((BUCKET, host, word, "uri"))
                continue
            _host(host, word, True, scheme, site, out)
            info = host_info(host)
            if info.aws and path:
                segments = path.split("/")
                if info.s3_bucket is None and len(segments) > 1 and any(r.startswith("s3") for r in host.split(".")):
                    if segments[1]:
                        out.append((BUCKET, segments[1], word, "path"))
                for seg in segments:
                    if len(seg) == 12 and seg.isdigit() and seg not in site.accounts:
                        if seg not in site.trusted_anywhere:
                            out.append((ACCOUNT, seg, word, "url"))
            profile = _PROFILE.search(path) if path else None
            if profile:
                out.append((PROFILE, profile.group(1), word, profile.group(2)))
        return
    if ":" in word and word.count(":") >= 2 and _IPV6.fullmatch(word) and _is_ipv6(word):
        # An IPv6 literal ("[2606:4700::1111]:443" arrives split at the brackets); a port after it is dropped.
        _host(word, word, kind == ENDPOINT, None, site, out)
        return
    if "@" in word:
        m = _EMAIL.match(word)
        if m and not in_doc:
            out.append((EMAIL, word, word, m.group(1).lower()))
        return
    if "." in word:
        profile = _PROFILE.match(word)
        if profile:
            out.append((PROFILE, profile.group(1), word, profile.group(2)))
            return
        if word[0].isdigit() and _IP.match(word):
            _host(word.split(":", 1)[0], word, kind == ENDPOINT, None, site, out)
            return
        m = _HOST.match(word)
        if m:
            _host(m.group(1), word, kind == ENDPOINT, None, site, out)
            return
    elif word.isdigit():
        if len(word) == 12 and word not in site.accounts and word not in site.trusted_anywhere:
            out.append((ACCOUNT, word, word, "word"))
        return
    if "-" in word:
        if word.startswith(("o-", "ou-")) or "/ou-" in word or "/o-" in word:
            org = _ORG.search(word)
            if org:
                out.append((ORG, org.group(1), word, None))
                return
        for m in REGION_TOKEN_RE.finditer(word):
            if m.group(1) != site.region:
                out.append((REGION, m.group(1), word, "word"))
    _encoded_word(word, kind, in_doc, site, out)


def _is_ipv6(word: str) -> bool:
    try:
        ipaddress.IPv6Address(word)
    except ValueError:
        return False
    return True


def _encoded_word(word: str, kind: int, in_doc: bool, site: Site, out: list) -> None:
    """Hits of the text a base64 or percent-encoded word decodes to (each hit's token says it was decoded)."""
    if "%" in word:
        if not _PERCENT.search(word):
            return
        decoded, how = urllib.parse.unquote(word), "percent-decoded"
    elif len(word) % 4 == 0 and _BASE64_WORD.fullmatch(word):
        decoded, how = _decoded_base64(word), "base64-decoded"
        if not decoded:
            return
    else:
        return
    for k, v, t, d in _text_hits(decoded, kind, in_doc, site, {}):
        out.append((k, v, f"{t} ({how} from {word[:24]}...)", d))


def _decoded_base64(word: str) -> str | None:
    """The printable text a base64 word encodes, or None (random ids, hashes and key material decode to bytes)."""
    try:
        data = base64.b64decode(word, altchars=b"-_" if ("-" in word or "_" in word) else None, validate=True)
        text = data.decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if len(text) < 8 or not all(c.isprintable() or c in "\n\r\t" for c in text):
        return None
    return text


_NO_HITS: tuple = ()


def _text_hits(text: str, kind: int, in_doc: bool, site: Site, words_seen: dict) -> list:
    """Hits of the words of one text; ``words_seen`` caches each word's hits (words repeat a lot)."""
    out: list = []
    for word in _SPLIT.findall(text):
        if len(word) < 4:
            continue
        found = words_seen.get(word)
        if found is None:
            hits: list = []
            _word(word, kind, in_doc, site, hits)
            found = words_seen[word] = tuple(hits) if hits else _NO_HITS
        if found:
            out.extend(found)
    if text[:1] in ("{", "["):
        if "ucket" in text:
            for m in _JSON_BUCKET.finditer(text):
                bucket = m.group(1)
                if not bucket.startswith(("arn:", "s3://")) and "*" not in bucket and "$" not in bucket:
                    out.append((BUCKET, bucket.split("/", 1)[0], bucket, "json"))
        public = _JSON_PUBLIC.search(text) if "ublic" in text else None
        if public:
            out.append((PUBLIC_SWITCH, "true", public.group(0), None))
    return out


# --------------------------------------------------------------------------- policy documents

# Condition keys that can confine Principal "*" to the site, by the kind of value they take.
ACCOUNT_CONDITIONS = frozenset({"aws:principalaccount", "aws:sourceaccount", "kms:calleraccount", "aws:sourceowner"})
ARN_CONDITIONS = frozenset({"aws:principalarn", "aws:sourcearn"})
NETWORK_CONDITIONS = frozenset({"aws:sourcevpce", "aws:sourcevpc"})
# Operators that restrict when the key is present and fail when it is absent. Not "...IfExists"
# (true when absent), not "Not..." (true for every other value), not ForAllValues (true when absent).
CONFINING_OPERATORS = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"})


# In a Deny, the negated operators confine instead: "deny unless the key is the site's" (IfExists
# too: an absent key then denies as well).
GUARDING_OPERATORS = frozenset(
    {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"}
    | {"stringnotequalsifexists", "stringnotlikeifexists", "arnnotequalsifexists", "arnnotlikeifexists"}
)


def _confining_conditions(condition: Any, operators: frozenset[str] = CONFINING_OPERATORS) -> tuple:
    """``(key, values)`` of each condition that could confine a statement to the site, if its values are."""
    if not isinstance(condition, dict):
        return ()
    found = []
    for operator, block in condition.items():
        op = str(operator).lower()
        if op.startswith("foranyvalue:"):
            op = op[len("foranyvalue:") :]
        if op not in operators or not isinstance(block, dict):
            continue
        for key, value in block.items():
            k = str(key).lower()
            if k in ACCOUNT_CONDITIONS or k in ARN_CONDITIONS or k in NETWORK_CONDITIONS:
                values = value if isinstance(value, list) else [value]
                found.append((k, tuple(str(v) for v in values)))
    return tuple(found)


def is_star_principal(principal: Any) -> bool:
    """``Principal: "*"`` or ``{"AWS": "*"}`` (alone or in a list): every principal of every account."""
    if principal == "*":
        return True
    if isinstance(principal, dict):
        aws = principal.get("AWS")
        return aws == "*" or (isinstance(aws, list) and "*" in aws)
    return False


def looks_like_policy(text: str) -> bool:
    return text[:1] == "{" and '"Statement"' in text


# Statement elements that never name an account, region, host or bucket: actions are
# "service:Action" words, the rest are labels and keywords.
_NOT_NAMES = frozenset({"Sid", "Effect", "Action", "NotAction"})


def _statement_leaves(value: Any, site: Site, words_seen: dict, out: list) -> None:
    """Hits of every string inside one parsed statement (a leaf is usually one word: cached as such).

    Strings are handled in the loop rather than by a call each: a statement is mostly strings,
    and this runs for every policy document of the stack.
    """
    kind = type(value)
    if kind is dict:
        children: Any = [child for key, child in value.items() if key not in _NOT_NAMES]
    elif kind is list:
        children = value
    elif kind is str:
        children = (value,)
    else:
        return
    seen = words_seen.get
    for child in children:
        child_kind = type(child)
        if child_kind is str:
            if len(child) < 4:
                continue
            found = seen(child)
            if found is None:
                found = words_seen[child] = tuple(_text_hits(child, PLAIN, True, site, words_seen)) or _NO_HITS
            if found:
                out.extend(found)
        elif child_kind is dict or child_kind is list:
            _statement_leaves(child, site, words_seen, out)


def _policy_hits(text: str, site: Site, caches: _SiteCaches) -> list | None:
    """Hits of an IAM or resource policy document, each with its statement's effect; None if not one."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    if statements is None:
        return None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return None
    out: list = []
    statements = [st for st in statements if isinstance(st, dict)]
    guards = tuple(
        (_strings(st.get("Action")), _strings(st.get("Resource")), conditions)
        for st in statements
        if st.get("Effect") == "Deny" and is_star_principal(st.get("Principal"))
        for conditions in [_confining_conditions(st.get("Condition"), GUARDING_OPERATORS)]
        if conditions
    )
    for i, st in enumerate(statements):
        effect = st.get("Effect")
        effect = effect if effect in ("Allow", "Deny") else "Allow"  # a malformed effect is not a Deny
        found: list = []
        _statement_leaves(st, site, caches.doc_words, found)
        for kind, value, token, detail in found:
            out.append((kind, value, token, detail, effect))
        if effect == "Allow" and ("NotPrincipal" in st or is_star_principal(st.get("Principal"))):
            sid = str(st.get("Sid", i))
            star = Star(
                sid,
                _confining_conditions(st.get("Condition")),
                "NotPrincipal" in st,
                _strings(st.get("Action")),
                _strings(st.get("Resource")),
                guards,
            )
            out.append((STAR, sid, "*", star, effect))
    return out


class Star(NamedTuple):
    """An Allow statement for every principal, with what could confine it to the site."""

    sid: str
    conditions: tuple
    """Its own conditions that could confine it: ``(key, values)``."""
    not_principal: bool
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    guards: tuple
    """The document's Deny statements for every principal that deny unless a key is the site's:
    ``(actions, resources, conditions)``; one that covers this statement confines it too."""


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


# --------------------------------------------------------------------------- strings and resources


class _SiteCaches:
    """Scan results for one site: per string input, and per word (by key kind), since words repeat most."""

    __slots__ = ("doc_words", "strings", "words")

    def __init__(self) -> None:
        self.strings: list[dict[str, tuple]] = [{} for _ in range(7)]
        self.words: list[dict[str, tuple]] = [{} for _ in range(7)]
        self.doc_words: dict[str, tuple] = {}


_CACHES: dict[Site, _SiteCaches] = {}
_CACHE_LIMIT = 200_000


def _site_cache(site: Site) -> _SiteCaches:
    caches = _CACHES.get(site)
    if caches is None or len(caches.doc_words) > _CACHE_LIMIT:
        if len(_CACHES) > 8:
            _CACHES.clear()
        caches = _CACHES[site] = _SiteCaches()
    return caches


def clear_caches() -> None:
    """Forget every cached scan (the benchmark measures cold runs)."""
    _CACHES.clear()
    host_info.cache_clear()


def string_hits(text: str, kind: int, site: Site, caches: _SiteCaches | None = None) -> tuple:
    """Hits of one string input under a key of ``kind``: ``(kind, value, token, detail, effect)`` tuples."""
    if caches is None:
        caches = _site_cache(site)
    strings = caches.strings[kind]
    hits = strings.get(text)
    if hits is not None:
        return hits
    hits = None
    if looks_like_policy(text):
        parsed = _policy_hits(text, site, caches)
        if parsed is not None:
            hits = tuple(parsed)
    if hits is None:
        if kind == BUCKET_KEY and text and not text.startswith(("arn:", "s3://", "http")) and "*" not in text:
            found = [(BUCKET, text.split("/", 1)[0], text, "key")]
        else:
            found = _text_hits(text, kind, False, site, caches.words[kind])
        hits = tuple((k, v, t, d, None) for k, v, t, d in found) if found else _NO_HITS
    strings[text] = hits
    return hits


def _decoded_user_data(text: str) -> str | None:
    """Base64 user data as text (gzip-compressed too); None when it is not base64 at all."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except OSError:
            return ""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return ""


def _region_key_hits(prop: str, key: str, value: Any, site: Site, out: list) -> None:
    ws = words(key)
    if "multi" in ws or "cross" in ws or "all" in ws:
        if is_set(value):
            out.append(Hit(REGION_SWITCH, prop, key, repr(value)))
        return
    if is_unknown(value):
        out.append(Hit(REGION_UNKNOWN, prop, key, key))
    elif isinstance(value, str) and value != site.region and REGION_TOKEN_RE.fullmatch(value):
        out.append(Hit(REGION, prop, value, f"{key} = {value!r}", None, "key"))


def _leaf(prop: str, key: str, value: Any, site: Site, cache: _SiteCaches, out: list) -> None:
    kind = _KEY_KINDS.get(key)
    if kind is None:
        kind = key_kind(key)
    if kind == SKIP:
        return
    if kind >= REGION_KEY:
        if kind == REGION_KEY:
            _region_key_hits(prop, key, value, site, out)
        elif kind == PUBLIC_KEY:
            if value is True or value == "ENABLED" or is_unknown(value):
                out.append(Hit(PUBLIC_SWITCH, prop, key, repr(value)))
        elif kind == GLOBAL_KEY and is_set(value):
            out.append(Hit(GLOBAL_MEMBER, prop, key, repr(value)))
        return
    if type(value) is not str or len(value) < 4:
        return
    if value in _UNKNOWN_STRINGS:
        if kind == BUCKET_KEY:
            out.append(Hit(BUCKET_UNKNOWN, prop, key, key))
        return
    if key.startswith(_BASE64_KEYS):
        decoded = _decoded_user_data(value)
        if decoded == "":
            out.append(Hit(UNREADABLE, prop, key, key))
        elif decoded is not None:
            value = decoded
    hits = cache.strings[kind].get(value)
    if hits is None:
        hits = string_hits(value, kind, site, cache)
    for k, v, t, d, e in hits:
        out.append(Hit(k, prop, v, t, e, d))


def _walk(prop: str, key: str, value: Any, site: Site, cache: _SiteCaches, out: list) -> None:
    value = value["__target"] if type(value) in _PROXIES else value
    kind = type(value)
    if kind is dict or kind is list or kind is tuple:
        key_class = _KEY_KINDS.get(key)
        if key_class is None:
            key_class = key_kind(key)
        if key_class == SKIP:
            return
        if key_class == REGION_KEY:
            ws = words(key)
            if ("multi" in ws or "cross" in ws or "all" in ws) and is_set(value):
                out.append(Hit(REGION_SWITCH, prop, key, "set"))
        # Leaves go straight to _leaf (most children are), containers and proxies through _walk.
        if kind is dict:
            for k, child in value.items():
                ck = type(child)
                if ck is dict or ck is list or ck is tuple or ck in _PROXIES:
                    _walk(prop, k, child, site, cache, out)
                else:
                    _leaf(prop, k, child, site, cache, out)
        else:
            for child in value:
                ck = type(child)
                if ck is dict or ck is list or ck is tuple or ck in _PROXIES:
                    _walk(prop, key, child, site, cache, out)
                else:
                    _leaf(prop, key, child, site, cache, out)
    else:
        _leaf(prop, key, value, site, cache, out)


_OWN_IDENTITY = frozenset({"region", "id", "arn", "urn"})
# The pulumi-aws 7.51.1 types whose input named "arn" is another resource's ARN (a target, a topic,
# a data location), not their own output: for these "arn" is scanned like any input.
ARN_INPUT_TYPES = frozenset(
    {
        "aws:cloudwatch/eventTarget:EventTarget",
        "aws:lakeformation/resource:Resource",
        "aws:notifications/channelAssociation:ChannelAssociation",
        "aws:sns/dataProtectionPolicy:DataProtectionPolicy",
        "aws:sns/topicPolicy:TopicPolicy",
    }
)


def resource_hits(props: Any, site: Site, resource_type: str = "") -> list[Hit]:
    """Every hit in one resource's inputs (the stack index keeps them per resource).

    The resource's own ``region``, ``id`` and ``arn`` are skipped: where the
    resource itself is, region-pinned decides.
    """
    target = props["__target"] if type(props) in _PROXIES else props
    out: list[Hit] = []
    if type(target) is dict:
        cache = _site_cache(site)
        own = _OWN_IDENTITY if resource_type not in ARN_INPUT_TYPES else _OWN_IDENTITY - {"arn"}
        for key, value in target.items():
            if key in own:
                continue
            _walk(key, key, value, site, cache, out)
    return out
