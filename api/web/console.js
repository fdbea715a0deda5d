// Hakobu dispatch console: a map of the region's own roads (no tile server), vehicles
// (moving along the roads between stops, redrawn every 5 s) and their planned routes,
// requests by status, drones and their flights, the day's KPIs, a booking form for phone
// dispatchers and a delivery form (van, drone or either) for shopping and medicine. Talks to
// the API with the key given in the header (or ?key=).
"use strict";

const TEXT = {
  ja: { title: "配車コンソール", key: "APIキー", book: "乗車予約", rider: "利用者", origin: "乗車地",
        destination: "降車地", time: "時刻", arriveby: "到着時刻で指定（通院など）", seats: "人数",
        wheelchair: "車いす", mapclick: "地図をクリックすると最寄りの乗降場が乗車地・降車地に入ります",
        bookbtn: "空きを確認", confirm: "確定", decline: "辞退", kpis: "本日の指標",
        requests: "予約一覧", id: "番号", status: "状態", pickup: "乗車時間帯",
        offer: "提案", rejected: "お受けできません", vehicle: "車両", lang: "English",
        requests_n: "予約数", kept: "約束遵守率", km: "走行距離 km", noMap: "地図を表示できません",
        st_requested: "受付", st_offered: "提案中", st_confirmed: "確定", st_assigned: "配車済",
        st_picked_up: "乗車中", st_dropped_off: "降車済", st_rejected: "お断り",
        st_cancelled: "取消", st_declined: "辞退", st_expired: "期限切れ", st_no_show: "不在",
        deliver: "配送予約（買い物・薬）", customer: "依頼者", shop: "発送元", to: "届け先",
        dtime: "お届け時刻（1時間枠）", weight: "重さ kg", mode: "手段", mode_auto: "ドローン優先・だめなら車",
        mode_drone: "ドローンのみ", mode_van: "車のみ", deliverbtn: "配送を予約", carrier: "担当",
        planned: "お届け予定", delivered_by: "予約済み", drone: "ドローン" },
  en: { title: "dispatch console", key: "API key", book: "Book a ride", rider: "Rider", origin: "From",
        destination: "To", time: "Time", arriveby: "arrive by this time (appointments)", seats: "Seats",
        wheelchair: "Wheelchair", mapclick: "Click the map to set the nearest boarding point as from / to",
        bookbtn: "Find a ride", confirm: "Confirm", decline: "Decline", kpis: "Today",
        requests: "Requests", id: "ID", status: "Status", pickup: "Pickup window",
        offer: "Offer", rejected: "Cannot offer", vehicle: "vehicle", lang: "日本語",
        requests_n: "requests", kept: "promises kept", km: "vehicle-km", noMap: "the map cannot be shown",
        deliver: "Book a delivery (shopping, medicine)", customer: "Customer", shop: "From (shop)",
        to: "To", dtime: "Deliver at (1-hour window)", weight: "Weight kg", mode: "By",
        mode_auto: "drone if one fits, else van", mode_drone: "drone only", mode_van: "van only",
        deliverbtn: "Book the delivery", carrier: "Carrier", planned: "Planned", delivered_by: "Booked",
        drone: "drone" },
};
const STATUS_COLOUR = { offered: "#f4a261", confirmed: "#2a9d8f", assigned: "#2a9d8f",
  picked_up: "#264653", dropped_off: "#8d99ae", rejected: "#e63946", cancelled: "#adb5bd",
  declined: "#adb5bd", expired: "#adb5bd", no_show: "#6d597a", requested: "#f4a261" };

const state = { lang: "ja", stops: [], requests: new Map(), deliveries: new Map(), offer: null, day: null,
                map: null, mapReady: false, pickNext: "origin", n: 0 };
const $ = (id) => document.getElementById(id);
const t = (k) => TEXT[state.lang][k] || k;
const st = (s) => TEXT[state.lang][`st_${s}`] || s.replace("_", " ");

function key() { return $("key").value.trim(); }

async function api(method, path, body) {
  const res = await fetch(path, { method, headers: { "Authorization": `Bearer ${key()}`,
    ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.detail || `${res.status}`);
  return data;
}

function say(msg) { $("status").textContent = msg; }

function label() {
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  $("lang").textContent = t("lang");
  document.documentElement.lang = state.lang;
  fillStops();
  renderRequests();
  renderDeliveries();
}

function hhmm(iso) { return iso ? iso.slice(11, 16) : ""; }

function fillStops() {
  for (const id of ["origin", "destination", "shop", "to"]) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren(...state.stops.map((s) => {
      const o = document.createElement("option");
      o.value = s.id;
      o.textContent = `${s.name} (${s.id})`;
      return o;
    }));
    if (keep) sel.value = keep;
  }
  const h = state.stops.find((s) => s.kind === "hospital");
  if (!$("destination").value || $("destination").value === $("origin").value) {
    if (h) $("destination").value = h.id;
  }
  if (h && !state.shopChosen) $("shop").value = h.id;
}

function renderDeliveries() {
  const rows = [...state.deliveries.values()].map((d) => {
    const tr = document.createElement("tr");
    tr.dataset.id = d.id;
    tr.dataset.status = d.status;
    tr.dataset.carrier = d.carrier || "";
    for (const v of [d.id, st(d.status), d.carrier || "", hhmm(d.planned_delivery)]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  });
  $("deliveries").tBodies[0].replaceChildren(...rows);
}

async function refreshDeliveries() {
  const page = await api("GET", "/v1/deliveries?limit=500");
  for (const d of page.items) state.deliveries.set(d.id, d);
  renderDeliveries();
}

async function deliver(ev) {
  ev.preventDefault();
  state.n += 1;
  const id = `console-d-${Date.now().toString(36)}-${state.n}`;
  const hm = $("dtime").value;
  const body = { id, customer: $("customer").value, shop: { stop_id: $("shop").value },
                 to: { stop_id: $("to").value }, ready: state.now,
                 deliver_after: isoAt(hm), deliver_before: isoAt(plus(hm, 60)),
                 weight_kg: Number($("weight").value), mode: $("mode").value };
  try {
    const d = await api("POST", "/v1/deliveries", body);
    state.deliveries.set(d.id, d);
    $("deliverytext").textContent = d.carrier
      ? `${t("delivered_by")}: ${d.carrier} → ${hhmm(d.planned_delivery)}`
      : `${t("rejected")}: ${d.rejection_reason}${d.rejection_detail ? ` (${d.rejection_detail})` : ""}`;
    renderDeliveries();
    refreshVehicles();
  } catch (e) { say(e.message); }
}

function renderRequests() {
  const rows = [...state.requests.values()].map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    tr.dataset.status = r.status;
    const w = r.offer ? `${hhmm(r.offer.pickup_window.earliest)}–${hhmm(r.offer.pickup_window.latest)}` : "";
    for (const v of [r.id, r.rider, st(r.status), w]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.append(td);
    }
    return tr;
  });
  $("requests").tBodies[0].replaceChildren(...rows);
  drawRequests();
}

function requestFeatures() {
  const at = new Map(state.stops.map((s) => [s.id, s]));
  const feats = [];
  for (const r of state.requests.values()) {
    const sid = r.offer ? r.offer.pickup_stop : r._origin;
    const s = at.get(sid);
    if (!s) continue;
    feats.push({ type: "Feature", geometry: { type: "Point", coordinates: [s.lon, s.lat] },
                 properties: { id: r.id, status: r.status, colour: STATUS_COLOUR[r.status] || "#999" } });
  }
  return { type: "FeatureCollection", features: feats };
}

function drawRequests() {
  if (state.mapReady) state.map.getSource("requests").setData(requestFeatures());
}

async function refreshRequests() {
  const page = await api("GET", "/v1/ride-requests?limit=500");
  for (const r of page.items) state.requests.set(r.id, { ...state.requests.get(r.id), ...r });
  renderRequests();
}

async function refreshKpis() {
  try {
    const k = await api("GET", "/v1/kpis");
    const kept = k.promises_kept_share === null ? "n/a" : `${(100 * k.promises_kept_share).toFixed(1)} %`;
    const rows = [[t("requests_n"), k.requests], [t("kept"), kept], [t("km"), k.vehicle_km],
                  ...Object.entries(k.by_status).map(([s, n]) => [st(s), n])];
    $("kpis").replaceChildren(...rows.flatMap(([a, b]) => {
      const dt = document.createElement("dt"); dt.textContent = a;
      const dd = document.createElement("dd"); dd.textContent = b;
      return [dt, dd];
    }));
    $("clock").textContent = hhmm(k.now);
    if (k.now) state.now = k.now;
  } catch (e) { say(e.message); }
}

async function refreshVehicles() {
  if (!state.mapReady) return;
  try { state.map.getSource("fleet").setData(await api("GET", "/v1/map/vehicles")); }
  catch (e) { say(e.message); }
}

function refreshAll() {
  refreshRequests().catch((e) => say(e.message));
  refreshDeliveries().catch((e) => say(e.message));
  refreshKpis();
  refreshVehicles();
}

// Vehicles move between events: redraw them (and the clock) every few seconds.
const MOVE_EVERY_MS = 5000;
function keepMoving() { setInterval(() => { refreshVehicles(); refreshKpis(); }, MOVE_EVERY_MS); }

async function follow() {
  // Server-Sent Events read with fetch (EventSource cannot send the key).
  let after = 0;
  for (;;) {
    try {
      const res = await fetch(`/v1/events?after=${after}`, { headers: { "Authorization": `Bearer ${key()}` } });
      if (!res.ok) throw new Error(`${res.status}`);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let buf = "";
      let timer = null;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const id = /^id: (\d+)/m.exec(block);
          if (id) after = Number(id[1]);
        }
        clearTimeout(timer);
        timer = setTimeout(refreshAll, 200);  // one refresh per burst of events
      }
    } catch (e) { say(e.message); }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function isoAt(hm) { return `${state.day}T${hm}:00${state.offset}`; }
function plus(hm, minutes) {
  const [h, m] = hm.split(":").map(Number);
  const v = h * 60 + m + minutes;
  return `${String(Math.floor(v / 60)).padStart(2, "0")}:${String(v % 60).padStart(2, "0")}`;
}

async function book(ev) {
  ev.preventDefault();
  state.n += 1;
  const id = `console-${Date.now().toString(36)}-${state.n}`;
  const hm = $("time").value;
  const body = { id, rider: $("rider").value, origin: { stop_id: $("origin").value },
                 destination: { stop_id: $("destination").value },
                 seats: Number($("seats").value), wheelchairs: $("wheelchair").checked ? 1 : 0 };
  if ($("arriveby").checked) body.arrive_by = isoAt(hm);
  else { body.pickup_after = isoAt(hm); body.pickup_before = isoAt(plus(hm, 30)); }
  try {
    const r = await api("POST", "/v1/ride-requests", body);
    r._origin = body.origin.stop_id;
    state.requests.set(r.id, r);
    state.offer = r;
    const box = $("offer");
    box.hidden = false;
    if (r.offer) {
      box.classList.remove("rejected");
      const o = r.offer;
      $("offertext").textContent = `${t("offer")}: ${t("vehicle")} ${o.vehicle}, ` +
        `${hhmm(o.pickup_window.earliest)}–${hhmm(o.pickup_window.latest)} → ${hhmm(o.planned_dropoff)}`;
      $("confirm").hidden = $("decline").hidden = false;
    } else {
      box.classList.add("rejected");
      const alt = r.alternatives.map((w) => hhmm(w.earliest)).join(", ");
      $("offertext").textContent = `${t("rejected")}: ${r.rejection_reason}${alt ? ` (${alt})` : ""}`;
      $("confirm").hidden = $("decline").hidden = true;
    }
    renderRequests();
  } catch (e) { say(e.message); }
}

async function answer(act) {
  if (!state.offer) return;
  try {
    const r = await api("POST", `/v1/ride-requests/${state.offer.id}/${act}`);
    state.requests.set(r.id, { ...state.requests.get(r.id), ...r });
    $("offer").hidden = true;
    state.offer = null;
    renderRequests();
    refreshAll();
  } catch (e) { say(e.message); }
}

function nearestStop(lngLat) {
  let best = null, bestD = Infinity;
  const k = Math.cos(lngLat.lat * Math.PI / 180);
  for (const s of state.stops) {
    const d = ((s.lon - lngLat.lng) * k) ** 2 + (s.lat - lngLat.lat) ** 2;
    if (d < bestD) { best = s; bestD = d; }
  }
  return best;
}

async function startMap() {
  const roads = await api("GET", "/v1/map/roads");
  let map;
  try {
    map = new maplibregl.Map({ container: "map", attributionControl: false,
      style: { version: 8, sources: {}, layers: [{ id: "bg", type: "background",
               paint: { "background-color": "#f4f3ef" } }] },
      bounds: bbox(roads), fitBoundsOptions: { padding: 20 } });
  } catch (e) { say(t("noMap")); return; }
  state.map = map;
  map.on("load", () => {
    const stops = { type: "FeatureCollection", features: state.stops.map((s) => ({ type: "Feature",
      geometry: { type: "Point", coordinates: [s.lon, s.lat] }, properties: { id: s.id, kind: s.kind } })) };
    const empty = { type: "FeatureCollection", features: [] };
    map.addSource("roads", { type: "geojson", data: roads });
    map.addSource("stops", { type: "geojson", data: stops });
    map.addSource("fleet", { type: "geojson", data: empty });
    map.addSource("requests", { type: "geojson", data: empty });
    map.addLayer({ id: "roads", type: "line", source: "roads", paint: { "line-color": "#c9c6bb", "line-width": 0.8 } });
    map.addLayer({ id: "routes", type: "line", source: "fleet", filter: ["==", ["get", "kind"], "route"],
                   paint: { "line-color": "#457b9d", "line-width": 3, "line-opacity": 0.8 } });
    map.addLayer({ id: "stops", type: "circle", source: "stops", paint: { "circle-radius": 3,
                   "circle-color": ["match", ["get", "kind"], "hospital", "#e76f51", "#6c757d"] } });
    map.addLayer({ id: "requests", type: "circle", source: "requests", paint: { "circle-radius": 7,
                   "circle-color": ["get", "colour"], "circle-stroke-color": "#fff", "circle-stroke-width": 1.5 } });
    map.addLayer({ id: "vehicles", type: "circle", source: "fleet", filter: ["==", ["get", "kind"], "vehicle"],
                   paint: { "circle-radius": 8, "circle-color": ["case", ["get", "moving"], "#2a9d8f", "#1d3557"],
                            "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    // Drones: their sorties' flight paths (out and back) and where each drone is now.
    map.addLayer({ id: "flights", type: "line", source: "fleet", filter: ["==", ["get", "kind"], "flight"],
                   paint: { "line-color": "#9b5de5", "line-width": 2, "line-dasharray": [2, 2] } });
    map.addLayer({ id: "drones", type: "circle", source: "fleet", filter: ["==", ["get", "kind"], "drone"],
                   paint: { "circle-radius": 6, "circle-color": ["case", ["get", "moving"], "#9b5de5", "#5a189a"],
                            "circle-stroke-color": "#fff", "circle-stroke-width": 2 } });
    state.mapReady = true;
    drawRequests();
    refreshVehicles();
  });
  map.on("click", (e) => {
    const s = nearestStop(e.lngLat);
    if (!s) return;
    $(state.pickNext).value = s.id;
    state.pickNext = state.pickNext === "origin" ? "destination" : "origin";
  });
}

function bbox(fc) {
  let x0 = 180, y0 = 90, x1 = -180, y1 = -90;
  for (const f of fc.features) for (const [x, y] of f.geometry.coordinates) {
    x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
  }
  return x0 <= x1 ? [[x0, y0], [x1, y1]] : [[130.6, 32.7], [130.8, 32.9]];
}

async function start() {
  const params = new URLSearchParams(location.search);
  if (params.get("key")) localStorage.setItem("hakobu-key", params.get("key"));
  if (params.get("lang") in TEXT) state.lang = params.get("lang");
  $("key").value = localStorage.getItem("hakobu-key") || "";
  $("lang").onclick = () => { state.lang = state.lang === "ja" ? "en" : "ja"; label(); };
  $("booking").onsubmit = book;
  $("delivery").onsubmit = deliver;
  $("shop").onchange = () => { state.shopChosen = true; };
  $("confirm").onclick = () => answer("confirm");
  $("decline").onclick = () => answer("decline");
  $("key").onchange = () => { localStorage.setItem("hakobu-key", key()); location.reload(); };
  label();
  if (!key()) { say(t("key")); return; }
  try {
    state.stops = await api("GET", "/v1/stops");
    const clock = await api("GET", "/v1/clock");
    state.now = clock.now;
    state.day = clock.now.slice(0, 10);
    state.offset = clock.now.slice(19);
  } catch (e) { say(e.message); return; }
  fillStops();
  refreshAll();
  startMap().catch((e) => say(e.message));
  follow();
  keepMoving();
}

window.hakobuConsole = { state,
  mapFeatureIds: () => (state.mapReady
    ? state.map.querySourceFeatures("requests").map((f) => f.properties.id) : null),
  mapLoaded: () => state.mapReady && state.map.loaded() };
start();
