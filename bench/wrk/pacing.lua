-- Shared by heartbeat.lua and pushgateway.lua: optional pacing and the JSON summary line.
-- BENCH_RATE (requests/s for the whole run, 0 = as fast as possible) is split over BENCH_THREADS
-- threads; each thread keeps a schedule of send slots 1/rate apart and delay() waits for the next
-- slot (LuaJIT's ffi reads CLOCK_MONOTONIC). A late response makes the following requests go at
-- once to catch up, so the offered rate holds; latency is measured from the actual send (wrk's
-- usual coordinated-omission caveat applies, as with any closed-loop generator).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local ts = ffi.new("bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local M = {}
local rate = tonumber(os.getenv("BENCH_RATE") or "0")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local interval_ms = 0
local next_slot = nil

function M.paced()
  return rate > 0
end

function M.init()
  if rate > 0 then interval_ms = 1000.0 * threads / rate end
end

function M.delay()
  local now = now_ms()
  if next_slot == nil or next_slot < now - 1000 then next_slot = now end  -- never bank > 1 s
  next_slot = next_slot + interval_ms
  local wait = next_slot - interval_ms - now
  if wait < 0 then return 0 end
  return math.floor(wait)
end

function M.done(summary, latency)
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"non_2xx":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end

return M
