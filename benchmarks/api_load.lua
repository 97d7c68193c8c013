-- wrk script of benchmarks/api_load.py: one wrk process per endpoint, paced to a fixed rate.
--
-- wrk is closed loop; delay() turns it into a paced stream: the thread hands out send slots
-- 1/rate apart (a monotonic clock through LuaJIT's FFI) and each connection waits for its slot,
-- so the rate holds at `rate` while any of the connections is free (the benchmark reports the
-- achieved rate to show it did). Latency is timed by wrk from the write of each request.
--
-- Arguments (after --): path, rate (requests/s for this process), then header lines
-- "Name: value" (the session cookie or bearer token, Accept-Encoding, ...).
-- done() writes the counts, errors and the whole latency histogram (µs value, count) as JSON to
-- the file named by $WRK_OUT; the benchmark merges the processes' histograms.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } fx_timespec;
int clock_gettime(int clk_id, fx_timespec *tp);
]]
local ts = ffi.new("fx_timespec")
local CLOCK_MONOTONIC = 1

local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000.0 + tonumber(ts.tv_nsec) / 1e6
end

local req = nil
local interval_ms = 0
local next_slot = nil

function init(args)
  local path = args[1]
  interval_ms = 1000.0 / tonumber(args[2])
  local headers = {}
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  req = wrk.format("GET", path, headers)
end

function delay()
  local now = now_ms()
  if next_slot == nil then
    next_slot = now
  end
  next_slot = next_slot + interval_ms
  local wait = next_slot - now
  if wait < 0 then
    return 0
  end
  return math.floor(wait)
end

function request()
  return req
end

function done(summary, latency, requests)
  local out = assert(io.open(os.getenv("WRK_OUT"), "w"))
  local e = summary.errors
  out:write(string.format(
    '{"duration_us": %d, "requests": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d}, "histogram_us": [',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout))
  for i = 1, #latency do
    local value, count = latency(i)
    out:write(string.format('%s[%d, %d]', i > 1 and ", " or "", value, count))
  end
  out:write("]}\n")
  out:close()
end
