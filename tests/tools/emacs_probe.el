;;; emacs_probe.el --- run by tests/tools/test_editors.py in `emacs --batch`, after the user's init file
;;; (docs/editors.md's eglot block): opens $TFM_PROBE_FILE, waits for eglot to connect to `tfm lsp'
;;; and for Flymake's diagnostics, asks for a hover and for the definition through xref, and writes
;;; what arrived to $TFM_PROBE_OUT as JSON.  Emacs 28 with ELPA's eglot, and later.
(require 'json)
(defvar tfm-probe-timeout 60)  ; seconds: generous, for a loaded machine
(defvar tfm-probe-out nil)
(unless (require 'eglot nil t)  ; Debian's elpa-eglot: activated with the other installed packages
  (package-activate-all)
  (unless (require 'eglot nil t)
    (push '(no-eglot . t) tfm-probe-out)))

(defun tfm-probe-wait (predicate)
  "Let processes and timers run until PREDICATE holds, or `tfm-probe-timeout' seconds pass."
  (let ((deadline (+ (float-time) tfm-probe-timeout)))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (funcall predicate)))

(defun tfm-probe-goto (row col)
  (goto-char (point-min))
  (forward-line row)
  (forward-char col))

(defun tfm-probe-diagnostics ()
  (vconcat (mapcar (lambda (d) (list (cons 'line (1- (line-number-at-pos (flymake-diagnostic-beg d))))
                                     (cons 'type (symbol-name (flymake-diagnostic-type d)))
                                     (cons 'text (flymake-diagnostic-text d))))
                   (flymake-diagnostics))))

(defun tfm-probe ()
  (let ((at (json-read-from-string (getenv "TFM_PROBE_AT"))))
    (find-file (getenv "TFM_PROBE_FILE"))
    (push (cons 'mode (symbol-name major-mode)) tfm-probe-out)
    (run-hooks 'post-command-hook)  ; eglot-ensure connects after the command that opened the file
    (push (cons 'connected (and (tfm-probe-wait #'eglot-current-server) t)) tfm-probe-out)
    (tfm-probe-wait (lambda () (flymake-diagnostics)))
    (push (cons 'diagnostics (tfm-probe-diagnostics)) tfm-probe-out)
    (let-alist at
      (tfm-probe-goto (aref .hover 0) (aref .hover 1))
      (push (cons 'hover (jsonrpc-request (eglot-current-server) :textDocument/hover
                                          (eglot--TextDocumentPositionParams)))
            tfm-probe-out)
      (tfm-probe-goto (aref .definition 0) (aref .definition 1))
      (let* ((backend (xref-find-backend))
             (items (xref-backend-definitions backend (xref-backend-identifier-at-point backend))))
        (push (cons 'definitions
                    (vconcat (mapcar (lambda (item)
                                       (let ((location (xref-item-location item)))
                                         (list (cons 'file (xref-location-group location))
                                               (cons 'line (1- (xref-location-line location))))))
                                     items)))
              tfm-probe-out)))))

(condition-case err
    (unless (assq 'no-eglot tfm-probe-out) (tfm-probe))
  (error (push (cons 'error (format "%S" err)) tfm-probe-out)))
(push (cons 'version emacs-version) tfm-probe-out)
(with-temp-file (getenv "TFM_PROBE_OUT")
  (insert (json-encode tfm-probe-out)))
(kill-emacs 0)
