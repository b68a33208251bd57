"""FakeWeaviate: a loopback stand-in for a Weaviate server, for tests only.

Weaviate cannot run on this machine, so the real `weaviate-client` talks to this fake:
- gRPC: the client's own generated servicer (`WeaviateServicer` from weaviate/proto)
  serves Search, BatchObjects and BatchDelete, plus the health check the client pings;
- REST: a tiny HTTP server answers the calls `connect_to_custom` and the schema API make
  (/v1/meta, /v1/.well-known/ready, /v1/schema...).
Every request is captured (`grpc_calls`, `rest_calls`) so tests can assert on what the
client really sent: vectors, filters, alpha, tokenization. Its search scoring is a small
BM25 + cosine imitation, good enough to check wiring, not Weaviate's ranking.
"""

from __future__ import annotations

import json
import math
import struct
import threading
import uuid as uuid_lib
from collections import Counter
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import numpy as np
from weaviate.proto.v1 import (
    base_pb2,
    batch_delete_pb2,
    batch_pb2,
    health_weaviate_pb2,
    properties_pb2,
    search_get_pb2,
    weaviate_pb2_grpc,
)

FAKE_VERSION = "1.33.0"
F = base_pb2.Filters


@dataclass
class FakeObject:
    uuid: str
    props: dict[str, Any]
    vector: np.ndarray | None


@dataclass
class FakeState:
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, dict[str, FakeObject]] = field(default_factory=dict)
    grpc_calls: list[tuple[str, Any]] = field(default_factory=list)
    rest_calls: list[tuple[str, str, Any]] = field(default_factory=list)
    # Error messages the next BatchObjects call returns for every object, as a server
    # does for e.g. a wrong vector length.
    reject_next_batch: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _schema_defaults(cls: dict[str, Any]) -> dict[str, Any]:
    """Fill the fields a real server adds, so the client's config parser accepts the class."""
    out = dict(cls)
    out.setdefault("description", "")
    out.setdefault(
        "invertedIndexConfig",
        {
            "bm25": {"b": 0.75, "k1": 1.2},
            "cleanupIntervalSeconds": 60,
            "stopwords": {"additions": None, "preset": "en", "removals": None},
            "indexNullState": False,
            "indexPropertyLength": False,
            "indexTimestamps": False,
            "usingBlockMaxWAND": True,
        },
    )
    out.setdefault("multiTenancyConfig", {"enabled": False, "autoTenantCreation": False, "autoTenantActivation": False})
    out.setdefault(
        "replicationConfig", {"factor": 1, "asyncEnabled": False, "deletionStrategy": "NoAutomatedResolution"}
    )
    out.setdefault(
        "shardingConfig",
        {
            "virtualPerPhysical": 128,
            "desiredCount": 1,
            "actualCount": 1,
            "desiredVirtualCount": 128,
            "actualVirtualCount": 128,
            "key": "_id",
            "strategy": "hash",
            "function": "murmur3",
        },
    )
    hnsw = {
        "cleanupIntervalSeconds": 300,
        "distance": "cosine",
        "dynamicEfMin": 100,
        "dynamicEfMax": 500,
        "dynamicEfFactor": 8,
        "ef": -1,
        "efConstruction": 128,
        "flatSearchCutoff": 40000,
        "maxConnections": 32,
        "skip": False,
        "vectorCacheMaxObjects": 1000000000000,
    }
    vcfg = {}
    for name, vc in (out.get("vectorConfig") or {}).items():
        vc = dict(vc)
        vc.setdefault("vectorIndexType", "hnsw")
        vc["vectorIndexConfig"] = {**hnsw, **(vc.get("vectorIndexConfig") or {})}
        vc.setdefault("vectorizer", {"none": {}})
        vcfg[name] = vc
    if vcfg:
        out["vectorConfig"] = vcfg
    props = []
    for p in out.get("properties", []):
        p = dict(p)
        p.setdefault("indexFilterable", True)
        p.setdefault("indexSearchable", p["dataType"][0] in ("text", "text[]"))
        p.setdefault("indexRangeFilters", False)
        p.setdefault("description", "")
        props.append(p)
    out["properties"] = props
    return out


# --- REST ------------------------------------------------------------------
def _make_http_handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet test output
            pass

        def _body(self) -> Any:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            return json.loads(raw) if raw else None

        def _send(self, code: int, body: Any = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            body = self._body() if method in ("POST", "PUT", "PATCH") else None
            path = self.path.split("?", 1)[0]
            with state.lock:
                state.rest_calls.append((method, path, body, dict(self.headers)))  # type: ignore[arg-type]
            if path == "/v1/meta":
                return self._send(200, {"version": FAKE_VERSION, "hostname": "fake-weaviate", "modules": {}})
            if path in ("/v1/.well-known/ready", "/v1/.well-known/live"):
                return self._send(200)
            if path == "/v1/nodes":
                return self._send(200, {"nodes": [{"name": "fake", "status": "HEALTHY", "shards": []}]})
            if path == "/v1/schema" and method == "GET":
                return self._send(200, {"classes": list(state.schemas.values())})
            if path == "/v1/schema" and method == "POST":
                cls = _schema_defaults(body)
                with state.lock:
                    state.schemas[cls["class"]] = cls
                    state.objects.setdefault(cls["class"], {})
                return self._send(200, cls)
            if path.startswith("/v1/schema/") and path.endswith("/properties") and method == "POST":
                name = path.split("/")[3]
                with state.lock:
                    cls = state.schemas[name]
                    cls["properties"] = [*cls.get("properties", []), body]
                    state.schemas[name] = _schema_defaults(cls)
                return self._send(200, body)
            if path.startswith("/v1/schema/"):
                name = path.split("/")[3]
                if method == "GET":
                    return self._send(200, state.schemas[name]) if name in state.schemas else self._send(404)
                if method == "DELETE":
                    with state.lock:
                        state.schemas.pop(name, None)
                        state.objects.pop(name, None)
                    return self._send(200)
            return self._send(404, {"error": [{"message": f"fake weaviate: no route {method} {path}"}]})

        def do_GET(self) -> None:  # http.server's naming
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def do_PUT(self) -> None:
            self._route("PUT")

        def do_HEAD(self) -> None:
            self._route("HEAD")

    return Handler


# --- gRPC ------------------------------------------------------------------
def _vector_of(obj: batch_pb2.BatchObject) -> np.ndarray | None:
    if obj.vectors:
        return np.frombuffer(obj.vectors[0].vector_bytes, dtype="<f4").copy()
    if obj.vector_bytes:
        return np.frombuffer(obj.vector_bytes, dtype="<f4").copy()
    if obj.vector:
        return np.asarray(obj.vector, dtype=np.float32)
    return None


def query_vector(msg: Any) -> np.ndarray | None:
    """The vector a NearVector or Hybrid message carries, in any of its encodings."""
    if getattr(msg, "vectors", None):
        return np.frombuffer(msg.vectors[0].vector_bytes, dtype="<f4").copy()
    if msg.vector_bytes:
        return np.frombuffer(msg.vector_bytes, dtype="<f4").copy()
    if msg.vector:
        return np.asarray(msg.vector, dtype=np.float32)
    if hasattr(msg, "near_vector") and msg.HasField("near_vector"):
        return query_vector(msg.near_vector)
    return None


def _props_of(obj: batch_pb2.BatchObject) -> dict[str, Any]:
    from google.protobuf.json_format import MessageToDict

    props: dict[str, Any] = MessageToDict(obj.properties.non_ref_properties)
    for arr in obj.properties.text_array_properties:
        props[arr.prop_name] = list(arr.values)
    for name in obj.properties.empty_list_props:
        props[name] = []
    return props


def matches(f: base_pb2.Filters, props: dict[str, Any]) -> bool:
    op = f.operator
    if op == F.OPERATOR_AND:
        return all(matches(x, props) for x in f.filters)
    if op == F.OPERATOR_OR:
        return any(matches(x, props) for x in f.filters)
    if op == F.OPERATOR_NOT:
        return not matches(f.filters[0], props)
    path = list(f.on) or [f.target.property]
    val = props.get(path[0])
    vals = val if isinstance(val, list) else [val]
    if op == F.OPERATOR_EQUAL:
        want: Any = f.value_text if f.HasField("value_text") else f.value_int
        return want in vals
    if op == F.OPERATOR_NOT_EQUAL:
        return f.value_text not in vals
    if op in (F.OPERATOR_CONTAINS_ANY, F.OPERATOR_CONTAINS_ALL):
        wanted = list(f.value_text_array.values)
        hit = [w in vals for w in wanted]
        return any(hit) if op == F.OPERATOR_CONTAINS_ANY else all(hit)
    raise NotImplementedError(f"fake weaviate: filter operator {op}")


def _bm25(query: str, objs: list[FakeObject], props: list[str]) -> dict[str, float]:
    """Plain BM25 over whitespace terms (the fake's stand-in for Weaviate's keyword index)."""
    docs = {o.uuid: " ".join(str(o.props.get(p, "")) for p in props).lower().split() for o in objs}
    if not docs:
        return {}
    avg = sum(len(d) for d in docs.values()) / len(docs) or 1.0
    terms = query.lower().split()
    df = Counter(t for d in docs.values() for t in set(d))
    out: dict[str, float] = {}
    for uid, d in docs.items():
        tf = Counter(d)
        s = 0.0
        for t in terms:
            if tf[t]:
                idf = math.log(1 + (len(docs) - df[t] + 0.5) / (df[t] + 0.5))
                s += idf * tf[t] * 2.2 / (tf[t] + 1.2 * (0.25 + 0.75 * len(d) / avg))
        if s > 0:
            out[uid] = s
    return out


def _cos_dist(objs: list[FakeObject], vec: np.ndarray) -> dict[str, float]:
    out = {}
    qn = np.linalg.norm(vec) or 1.0
    for o in objs:
        if o.vector is not None and len(o.vector) == len(vec):
            out[o.uuid] = 1.0 - float(np.dot(o.vector, vec) / ((np.linalg.norm(o.vector) or 1.0) * qn))
    return out


def _norm(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    lo, hi = min(scores.values()), max(scores.values())
    return {k: (v - lo) / (hi - lo) if hi > lo else 1.0 for k, v in scores.items()}


def _value(v: Any) -> properties_pb2.Value:
    if isinstance(v, bool):
        return properties_pb2.Value(bool_value=v)
    if isinstance(v, int):
        return properties_pb2.Value(int_value=v)
    if isinstance(v, float):
        return properties_pb2.Value(number_value=v)
    if isinstance(v, list):
        return properties_pb2.Value(
            list_value=properties_pb2.ListValue(text_values=properties_pb2.TextValues(values=[str(x) for x in v]))
        )
    return properties_pb2.Value(text_value=str(v))


class FakeWeaviateServicer(weaviate_pb2_grpc.WeaviateServicer):
    def __init__(self, state: FakeState) -> None:
        self.state = state

    def _schema_types(self, collection: str) -> dict[str, str]:
        cls = self.state.schemas.get(collection, {})
        return {p["name"]: p["dataType"][0] for p in cls.get("properties", [])}

    def BatchObjects(self, request, context):  # noqa: N802 - gRPC naming
        st = self.state
        with st.lock:
            st.grpc_calls.append(("BatchObjects", request))
            if st.reject_next_batch is not None:
                msg, st.reject_next_batch = st.reject_next_batch, None
                errs = [batch_pb2.BatchObjectsReply.BatchError(index=i, error=msg) for i in range(len(request.objects))]
                return batch_pb2.BatchObjectsReply(took=0.0, errors=errs)
            errs = []
            for i, obj in enumerate(request.objects):
                if obj.collection not in st.schemas:
                    errs.append(batch_pb2.BatchObjectsReply.BatchError(index=i, error="class not found"))
                    continue
                types = self._schema_types(obj.collection)
                props = _props_of(obj)
                for k, v in props.items():
                    if types.get(k) == "int" and isinstance(v, float):
                        props[k] = int(v)
                st.objects[obj.collection][obj.uuid] = FakeObject(obj.uuid, props, _vector_of(obj))
            return batch_pb2.BatchObjectsReply(took=0.0, errors=errs)

    def BatchDelete(self, request, context):  # noqa: N802
        st = self.state
        with st.lock:
            st.grpc_calls.append(("BatchDelete", request))
            objs = st.objects.get(request.collection, {})
            gone = [u for u, o in objs.items() if matches(request.filters, o.props)]
            for u in gone:
                del objs[u]
        return batch_delete_pb2.BatchDeleteReply(took=0.0, failed=0, matches=len(gone), successful=len(gone))

    def Search(self, request, context):  # noqa: N802
        st = self.state
        with st.lock:
            st.grpc_calls.append(("Search", request))
            if request.collection not in st.schemas:
                context.abort(grpc.StatusCode.NOT_FOUND, f"class {request.collection} not found")
            objs = list(st.objects[request.collection].values())
        if request.HasField("filters"):
            objs = [o for o in objs if matches(request.filters, o.props)]
        ranked: list[tuple[FakeObject, float | None, float | None]]
        by_id = {o.uuid: o for o in objs}
        if request.HasField("hybrid_search"):
            h = request.hybrid_search
            alpha = h.alpha_param if h.use_alpha_param else h.alpha
            kw = _norm(_bm25(h.query, objs, list(h.properties) or ["search_text"])) if h.query else {}
            vec = query_vector(h)
            vs = _norm({u: -d for u, d in _cos_dist(objs, vec).items()}) if vec is not None else {}
            fused = {u: alpha * vs.get(u, 0.0) + (1 - alpha) * kw.get(u, 0.0) for u in set(kw) | set(vs)}
            ranked = [(by_id[u], s, None) for u, s in sorted(fused.items(), key=lambda kv: -kv[1])]
        elif request.HasField("near_vector"):
            dist = _cos_dist(objs, query_vector(request.near_vector))
            ranked = [(by_id[u], None, d) for u, d in sorted(dist.items(), key=lambda kv: kv[1])]
        elif request.HasField("bm25_search"):
            b = request.bm25_search
            sc = _bm25(b.query, objs, list(b.properties) or ["search_text"])
            ranked = [(by_id[u], s, None) for u, s in sorted(sc.items(), key=lambda kv: -kv[1])]
        else:
            objs.sort(key=lambda o: o.uuid)
            if request.after:
                objs = [o for o in objs if o.uuid > request.after]
            ranked = [(o, None, None) for o in objs]
        if request.offset:
            ranked = ranked[request.offset :]
        if request.limit:
            ranked = ranked[: request.limit]
        results = []
        for o, score, dist in ranked:
            md = search_get_pb2.MetadataResult(id=o.uuid, id_as_bytes=uuid_lib.UUID(o.uuid).bytes)
            if score is not None:
                md.score, md.score_present = score, True
            if dist is not None:
                md.distance, md.distance_present = dist, True
            if request.metadata.vector and o.vector is not None:
                md.vector_bytes = struct.pack(f"<{len(o.vector)}f", *o.vector)
            props = properties_pb2.Properties(fields={k: _value(v) for k, v in o.props.items()})
            results.append(
                search_get_pb2.SearchResult(
                    properties=search_get_pb2.PropertiesResult(
                        non_ref_props=props, target_collection=request.collection
                    ),
                    metadata=md,
                )
            )
        return search_get_pb2.SearchReply(took=0.0, results=results)


def _health(request, context):
    return health_weaviate_pb2.WeaviateHealthCheckResponse(
        status=health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
    )


class FakeWeaviate:
    """Start with `with FakeWeaviate() as fw:`; point the client at fw.url / fw.grpc_port."""

    def __init__(self) -> None:
        self.state = FakeState()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(FakeWeaviateServicer(self.state), self._grpc)
        health = grpc.unary_unary_rpc_method_handler(
            _health,
            request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
            response_serializer=health_weaviate_pb2.WeaviateHealthCheckResponse.SerializeToString,
        )
        self._grpc.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": health}),)
        )
        self.grpc_port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _make_http_handler(self.state))
        self.http_port = self._http.server_address[1]
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> FakeWeaviate:
        self._grpc.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._grpc.stop(grace=None)

    def __enter__(self) -> FakeWeaviate:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- what tests look at -------------------------------------------------
    def calls(self, method: str) -> list[Any]:
        with self.state.lock:
            return [req for name, req in self.state.grpc_calls if name == method]

    def objects(self, collection: str) -> list[FakeObject]:
        with self.state.lock:
            return list(self.state.objects.get(collection, {}).values())

    def schema(self, collection: str) -> dict[str, Any]:
        return self.state.schemas[collection]
