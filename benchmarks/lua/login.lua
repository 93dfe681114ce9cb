-- POST the OAuth2 password grant as a form; args: url-encoded form bodies, one
-- per account, used round-robin.

local bodies = {}
local n = 0

function init(args)
  bodies = args
end

function request()
  n = n + 1
  return wrk.format("POST", nil,
    { ["Content-Type"] = "application/x-www-form-urlencoded" }, pick(bodies, n))
end
