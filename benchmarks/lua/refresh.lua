-- Refresh-token rotation: every refresh token is single use, and presenting a
-- spent one revokes its family. So each thread (one connection) follows its own
-- chain: it starts from its own token (args[id]) and sends the refresh_token of
-- each answer with the next request.

local token

function init(args)
  token = args[id]
end

function request()
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"refresh_token": "' .. token .. '"}')
end

function response(status, headers, body)
  count(status)
  if status == 200 then
    token = body:match('"refresh_token"%s*:%s*"([^"]+)"') or token
  end
end
