-- wrk script: the Pushgateway baseline. One group per console (job="consola", console_id=...),
-- each push carrying what a heartbeat carries, as Prometheus text. Same id scheme, pacing and
-- summary line as heartbeat.lua, so the two runs compare like for like.
package.path = (os.getenv("BENCH_WRK_DIR") or ".") .. "/?.lua;" .. package.path
local pacing = require("pacing")
local consoles = tonumber(os.getenv("BENCH_CONSOLES") or "100000")
local states = { "activa", "ocupada", "esperando", "error", "inactiva" }

local function console_id(i)
  return string.format("%08x-0000-4000-8000-%012x", i, i)
end

local function body(i)
  local current = states[(i % 4) + 1]
  local lines = {
    "# TYPE heartbeat_last_seen_timestamp_seconds gauge",
    string.format("heartbeat_last_seen_timestamp_seconds %d", os.time()),
    "# TYPE heartbeat_console_state gauge",
  }
  for _, s in ipairs(states) do
    local v = 0
    if s == current then v = 1 end
    lines[#lines + 1] = string.format('heartbeat_console_state{state="%s"} %d', s, v)
  end
  lines[#lines + 1] = "# TYPE heartbeat_console_info gauge"
  lines[#lines + 1] = string.format(
    'heartbeat_console_info{name="Consola consola-%d",hostname="consola-%d",platform="linux",arch="x64",version="3.11.7"} 1', i, i)
  return table.concat(lines, "\n") .. "\n"
end

function init(args)
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0) % 100000)
  pacing.init()
end

if pacing.paced() then
  function delay()
    return pacing.delay()
  end
end

function request()
  local i = math.random(0, consoles - 1)
  local path = "/metrics/job/consola/console_id/" .. console_id(i)
  return wrk.format("POST", path, { ["Content-Type"] = "text/plain; version=0.0.4" }, body(i))
end

function done(summary, latency, requests)
  pacing.done(summary, latency)
end
