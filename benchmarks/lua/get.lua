-- GET wrk's URL; args: zero or more bearer tokens, used round-robin.

local tokens = {}
local n = 0

function init(args)
  tokens = args
end

function request()
  n = n + 1
  if #tokens == 0 then
    return wrk.format("GET")
  end
  return wrk.format("GET", nil, { ["Authorization"] = "Bearer " .. pick(tokens, n) })
end
