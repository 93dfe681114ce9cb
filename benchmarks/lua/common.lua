-- Shared by every scenario (the runner puts it in front of the scenario's own
-- script). Each wrk thread has one connection and its own Lua state: it counts
-- the answers it gets by status; done() merges the counts of all threads and
-- prints one line of JSON that the runner reads.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  -- Tells the thread which of the runner's arguments is its own (per-thread tokens).
  thread:set("id", #threads)
end

statuses = {}

function count(status)
  statuses[status] = (statuses[status] or 0) + 1
end

function response(status, headers, body)
  count(status)
end

-- The argument for request number n, taken round-robin from args.
function pick(list, n)
  return list[(n % #list) + 1]
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for code, n in pairs(thread:get("statuses") or {}) do
      merged[code] = (merged[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(merged) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %.1f, "p90": %.1f, "p99": %.1f, "mean": %.1f, "max": %.1f}, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max,
    table.concat(parts, ", ")))
end
