-- wrk script for the SCIM scenarios of `make bench`. Configured through environment variables:
--   BENCH_MODE   lookup | create | patch_user | get
--   BENCH_TOKEN  the Bearer token;  BENCH_BASE  the Tenant URL path (/scim/v2/<tenant id>)
--   BENCH_LIST   a file with one userName (lookup) or SCIM id (patch_user) per line
--   BENCH_PATH   the path for mode get;  BENCH_COOKIE  a panel session (mode get)
--   BENCH_RUN    a prefix that makes created userNames unique
-- done() prints one JSON line prefixed with BENCH_RESULT for the orchestrator (bench/run.py).

local mode = os.getenv("BENCH_MODE")
local token = os.getenv("BENCH_TOKEN")
local base = os.getenv("BENCH_BASE")
local run_id = os.getenv("BENCH_RUN") or "r"
local counter = 0
local items = {}
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  local path = os.getenv("BENCH_LIST")
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then items[#items + 1] = line end
    end
  end
  wrk.headers["Authorization"] = "Bearer " .. token
  local cookie = os.getenv("BENCH_COOKIE")
  if cookie and cookie ~= "" then
    -- panel pages: a signed-in session instead of the bearer token
    wrk.headers["Authorization"] = nil
    wrk.headers["Cookie"] = cookie
  end
  wrk.headers["Content-Type"] = "application/scim+json"
  wrk.headers["User-Agent"] = "Azure-SCIM-Provisioning (bench)"
end

local function pick()
  return items[math.random(#items)]
end

request = function()
  if mode == "lookup" then
    local filter = urlencode('userName eq "' .. pick() .. '"')
    return wrk.format("GET", base .. "/Users?filter=" .. filter)
  elseif mode == "create" then
    counter = counter + 1
    local nick = string.format("new.%s.%d.%d", run_id, tid or 0, counter)
    local name = nick .. "@bench.example"
    local body = '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",' ..
      '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],' ..
      '"externalId":"' .. nick .. '","userName":"' .. name .. '","active":true,' ..
      '"displayName":"New ' .. nick .. '","emails":[{"primary":true,"type":"work","value":"' .. name .. '"}],' ..
      '"meta":{"resourceType":"User"},"name":{"formatted":"New ' .. nick .. '","familyName":"' .. nick ..
      '","givenName":"New"},"title":"Engineer",' ..
      '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"R&D"}}'
    return wrk.format("POST", base .. "/Users", nil, body)
  elseif mode == "patch_user" then
    counter = counter + 1
    local v = string.format("%d-%d", tid or 0, counter)
    local body = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[' ..
      '{"op":"Replace","path":"displayName","value":"Renamed ' .. v .. '"},' ..
      '{"op":"Replace","path":"name.givenName","value":"Given ' .. v .. '"},' ..
      '{"op":"Replace","path":"name.familyName","value":"Family ' .. v .. '"},' ..
      '{"op":"Replace","path":"title","value":"Title ' .. v .. '"},' ..
      '{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Dept ' .. v .. '"}]}'
    return wrk.format("PATCH", base .. "/Users/" .. pick(), nil, body)
  else
    return wrk.format("GET", os.getenv("BENCH_PATH"))
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
