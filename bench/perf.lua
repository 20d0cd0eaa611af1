-- wrk script for bench/perf.py. Environment:
--   PERF_IDS   a file with one stored project id a line (rotated through)
--   PERF_KEY   an API key, sent as "Authorization: Bearer ..."
--   PERF_MODE  "stored": GET /api/v1/projects/{id}/partners?k=10
--              "pasted": POST /api/v1/search/partners with a new abstract every request
--   PERF_PATH  the path prefix for "stored" (default /api/v1/projects/)
-- done() prints one line "PERF_JSON {...}" with throughput and latency percentiles.

local ids = {}
local threads = {}
local counter = 0

local function read_ids(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  return out
end

function setup(thread)
  thread:set("thread_id", #threads + 1)
  threads[#threads + 1] = thread
end

local mode = os.getenv("PERF_MODE") or "stored"
local key = os.getenv("PERF_KEY") or ""
local prefix = os.getenv("PERF_PATH") or "/api/v1/projects/"
local headers = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}

local modalities = {"CAR-T cells", "AAV vectors", "lentiviral vectors", "NK cells",
  "iPSC-derived cells", "mesenchymal stromal cells", "CRISPR-edited cells", "TCR-T cells"}
local targets = {"CD19", "BCMA", "AAV9", "GPRC5D", "BCL11A", "NY-ESO-1", "HER2", "CD70"}
local indications = {"multiple myeloma", "glioblastoma", "haemophilia B", "type 1 diabetes",
  "sickle cell disease", "Parkinson disease", "heart failure", "lupus", "melanoma"}
local processes = {"closed automated manufacturing", "suspension vector production",
  "release testing", "potency assay development", "GLP toxicology", "apheresis collection",
  "cryopreservation and shipment", "tech transfer to a second site", "aseptic fill and finish"}

local function pick(list) return list[math.random(#list)] end

local function abstract(serial)
  local s = {
    "We develop " .. pick(modalities) .. " against " .. pick(targets) .. " for patients with "
      .. pick(indications) .. " (note " .. serial .. "-1).",
    "In " .. math.random(2, 900) .. " preclinical models the product cleared disease in "
      .. math.random(2, 40) .. " of them (note " .. serial .. "-2).",
    "Our process relies on " .. pick(processes) .. ", which limits supply to "
      .. math.random(2, 40) .. " batches a month (note " .. serial .. "-3).",
    "We need a partner for " .. pick(processes) .. " and " .. pick(processes)
      .. " before a first-in-human study (note " .. serial .. "-4).",
    "A phase I study at " .. math.random(2, 6) .. " dose levels is planned with "
      .. math.random(6, 90) .. " patients (note " .. serial .. "-5).",
  }
  return table.concat(s, " ")
end

function init(args)
  thread_id = thread_id or 0
  ids = read_ids(os.getenv("PERF_IDS"))
  math.randomseed(os.time() + thread_id * 7919)
  counter = thread_id * 1000003
end

function request()
  counter = counter + 1
  if mode == "pasted" then
    local body = '{"k": 10, "text": "' .. abstract(thread_id .. "-" .. counter) .. '"}'
    return wrk.format("POST", "/api/v1/search/partners", headers, body)
  end
  local id = ids[(counter % #ids) + 1]
  return wrk.format("GET", prefix .. id .. "/partners?k=10", headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  local p = function(q) return latency:percentile(q) / 1000.0 end
  io.write(string.format(
    'PERF_JSON {"requests": %d, "duration_s": %.3f, "requests_per_s": %.2f, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "mean_ms": %.2f, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    p(50), p(90), p(99), latency.max / 1000.0, latency.mean / 1000.0,
    e.connect, e.read, e.write, e.status, e.timeout))
end
