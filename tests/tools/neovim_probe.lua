-- Run by tests/tools/test_editors.py inside `nvim --headless FILE.tfm`, after the user's configuration
-- (docs/editors.md's file) has loaded: waits for the tfm client to attach and for its diagnostics,
-- asks for a hover and a definition, breaks the text and waits for the new diagnostics, then writes
-- what arrived to the JSON file named by $TFM_PROBE_OUT and quits. Lua of Neovim 0.7 and later.
local v = vim.version()
local out = { version = v.major .. "." .. v.minor .. "." .. v.patch, filetype = vim.bo.filetype }
-- Where to ask: {hover = {row, col}, definition = {row, col}, break = {row, new line}}, rows and columns 0-based.
local at = vim.fn.json_decode(vim.env.TFM_PROBE_AT)
local timeout = tonumber(vim.env.TFM_PROBE_TIMEOUT_MS or "60000")

local function clients()
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = 0 })
  end
  return vim.tbl_values(vim.lsp.buf_get_clients(0))
end

local function diagnostics()
  return vim.tbl_map(function(d)
    return { code = d.code, severity = d.severity, lnum = d.lnum, col = d.col, message = d.message }
  end, vim.diagnostic.get(0))
end

-- The first answer of any client to a request at (row, col), both 0-based.
local function request(method, row, col)
  vim.api.nvim_win_set_cursor(0, { row + 1, col })
  local params = vim.lsp.util.make_position_params(0, "utf-16")
  local answers = vim.lsp.buf_request_sync(0, method, params, timeout) or {}
  for _, answer in pairs(answers) do
    return answer.result or { error = answer.error }
  end
end

local function probe()
  out.attached = vim.wait(timeout, function() return #clients() > 0 end, 50)
  out.clients = vim.tbl_map(function(c) return c.name end, clients())
  vim.wait(timeout, function() return #vim.diagnostic.get(0) > 0 end, 50)
  out.diagnostics = diagnostics()
  out.hover = request("textDocument/hover", at.hover[1], at.hover[2])
  out.definition = request("textDocument/definition", at.definition[1], at.definition[2])
  -- An edit reaches the server (didChange) and its diagnostics come back.
  vim.api.nvim_buf_set_lines(0, at["break"][1], at["break"][1] + 1, false, { at["break"][2] })
  vim.wait(timeout, function()
    for _, d in ipairs(vim.diagnostic.get(0)) do
      if d.severity == vim.diagnostic.severity.ERROR then return true end
    end
  end, 50)
  out.after_edit = diagnostics()
end

local ok, err = pcall(probe)
if not ok then out.error = tostring(err) end
local file = io.open(vim.env.TFM_PROBE_OUT, "w")
file:write(vim.fn.json_encode(out))
file:close()
vim.cmd("qall!")
