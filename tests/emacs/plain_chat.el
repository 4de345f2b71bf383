;;; plain_chat.el --- Emacs + eglot, nothing of ours installed: the chat file end to end  -*- lexical-binding: t -*-
;; Run by tests/test_plain_lsp_editors.py as `emacs -nw -q -l plain_chat.el` under tmux
;; (--batch runs no idle timers, and eglot sends didChange from one).  Environment:
;; AGENT_LSP_TEST_ROOT (a git workspace with calc.py), AGENT_LSP_RESULT (a file this writes:
;; "ok ..." or the failure with every buffer).  Steps run from a timer, each waiting on
;; what the user would see, each bounded well below 120 s.
(require 'eglot)
(require 'cl-lib)

(defvar pc-root (file-name-as-directory (getenv "AGENT_LSP_TEST_ROOT")))
(defvar pc-result (getenv "AGENT_LSP_RESULT"))
(defvar pc-chat nil)
(defvar pc-calc nil)
(defvar pc-approved-at nil)
(defvar pc-landed nil)

(setq eglot-confirm-server-initiated-edits nil)
(add-to-list 'auto-mode-alist '("\\.md\\'" . text-mode))
(add-to-list 'eglot-server-programs '((python-mode text-mode) . ("agent-lsp" "serve")))
(add-hook 'python-mode-hook #'eglot-ensure)
(add-hook 'text-mode-hook #'eglot-ensure)

(defun pc-finish (code text)
  (with-temp-file pc-result (insert text))
  (kill-emacs code))

(defun pc-buffers ()
  (mapconcat (lambda (b) (format "--- %s\n%s" (buffer-name b)
                                 (with-current-buffer b (buffer-substring-no-properties (point-min) (point-max)))))
             (buffer-list) "\n"))

(defun pc-action (prefix)
  "Run eglot's own code-action menu here, answering it with the title starting with PREFIX."
  (cl-letf* ((last-nonmenu-event 13)   ; a key, not a mouse click: the menu is `completing-read'
             ((symbol-function 'completing-read)
              (lambda (_prompt collection &rest _)
                (or (cl-find-if (lambda (title) (string-prefix-p prefix title))
                                (mapcar (lambda (c) (if (consp c) (car c) c)) collection))
                    (error "No code action %S among %S" prefix (mapcar (lambda (c) (if (consp c) (car c) c)) collection))))))
    (eglot-code-actions (point) nil nil t)))

(defun pc-text (buffer) (with-current-buffer buffer (buffer-substring-no-properties (point-min) (point-max))))
(defun pc-managed (buffer) (with-current-buffer buffer (and eglot--managed-mode (eglot-current-server))))
(defun pc-messages () (pc-text (get-buffer-create "*Messages*")))
(defun pc-count (needle haystack)
  (let ((n 0) (start 0))
    (while (string-match (regexp-quote needle) haystack start) (setq n (1+ n) start (match-end 0)))
    n))

(defvar pc-steps
  (list
   (list "the server on calc.py" (lambda () (pc-managed pc-calc))
         (lambda () (with-current-buffer pc-calc (pc-action "New agent chat"))))
   (list "the message naming the chat file"
         (lambda () (string-match "Agent chat: \\(/[^ \n]+\\.md\\)" (pc-messages)))
         (lambda ()
           (string-match "Agent chat: \\(/[^ \n]+\\.md\\)" (pc-messages))
           (setq pc-chat (find-file (match-string 1 (pc-messages))))))
   (list "the server on the chat file" (lambda () (pc-managed pc-chat))
         (lambda () (with-current-buffer pc-chat (goto-char (point-max)) (insert "What does add do?\n"))))
   (list "a second for eglot's didChange" (let ((at nil)) (lambda () (setq at (or at (float-time))) (> (- (float-time) at) 1)))
         (lambda () (with-current-buffer pc-chat (goto-char (point-max)) (pc-action "Send to agent"))))
   (list "the streamed answer and the end of the turn"
         (lambda () (and (string-match-p "It subtracts b from a\\." (pc-text pc-chat))
                         (= 2 (pc-count "\n## You\n" (pc-text pc-chat)))))
         (lambda () (with-current-buffer pc-chat (goto-char (point-max)) (insert "Please fix it.\n"))))
   (list "a second for eglot's didChange" (let ((at nil)) (lambda () (setq at (or at (float-time))) (> (- (float-time) at) 1)))
         (lambda () (with-current-buffer pc-chat (goto-char (point-max)) (pc-action "Send to agent"))))
   (list "the approval and its diff in the chat"
         (lambda () (and (string-match-p "Approval needed: Edit calc.py" (pc-text pc-chat))
                         (string-match-p "\\+    return a \\+ b" (pc-text pc-chat))))
         (lambda () (with-current-buffer pc-chat
                      (goto-char (point-max))
                      (setq pc-approved-at (float-time))
                      (pc-action "Approve agent edit"))))
   (list "the edit in the calc.py buffer"
         (lambda () (string= (pc-text pc-calc) "def add(a, b):\n    return a + b\n"))
         (lambda () (setq pc-landed (- (float-time) pc-approved-at))
           (when (> pc-landed 1.0) (pc-finish 1 (format "the edit landed %.2f s after the approval" pc-landed)))))
   (list "the end of the second turn" (lambda () (string-match-p "Fixed\\." (pc-text pc-chat)))
         (lambda () (with-current-buffer pc-calc
                      (goto-char (point-min)) (insert "# agent: is add tested?\n") (goto-char (point-min)))))
   (list "a second for eglot's didChange" (let ((at nil)) (lambda () (setq at (or at (float-time))) (> (- (float-time) at) 1)))
         (lambda () (with-current-buffer pc-calc (goto-char (point-min)) (pc-action "Ask agent: is add tested?"))))
   (list "the answer in the chat, in a message and in a diagnostic on the comment line"
         (lambda () (and (string-match-p "No tests yet\\." (pc-text pc-chat))
                         (string-match-p "Agent: No tests yet\\. (full chat: .agent-lsp/chats/" (pc-messages))
                         (with-current-buffer pc-calc
                           ;; what flymake shows, or holds for its next idle run (eglot 1.9)
                           (cl-some (lambda (d) (and (string-match-p "No tests yet" (flymake-diagnostic-text d))
                                                     (= 1 (line-number-at-pos (flymake-diagnostic-beg d)))))
                                    (append (flymake-diagnostics) eglot--diagnostics)))))
         (lambda () (pc-finish 0 (format "ok (approval landed in %.2f s)" pc-landed))))))

(defvar pc-busy nil)
(defvar pc-since (float-time))

(defun pc-tick ()
  (unless pc-busy
    (setq pc-busy t)
    (condition-case err
        (let ((step (car pc-steps)))
          (cond ((funcall (nth 1 step))
                 (setq pc-steps (cdr pc-steps) pc-since (float-time))
                 (funcall (nth 2 step)))
                ((> (- (float-time) pc-since) 20)
                 (pc-finish 1 (format "timed out waiting for %s\n%s" (car step) (pc-buffers))))))
      (error (pc-finish 1 (format "error: %S\n%s" err (pc-buffers)))))
    (setq pc-busy nil)))

(setq pc-calc (find-file (expand-file-name "calc.py" pc-root)))
(run-with-timer 0.5 0.1 #'pc-tick)
(run-with-timer 90 nil (lambda () (pc-finish 1 (format "the whole session took over 90 s\n%s" (pc-buffers)))))
;;; plain_chat.el ends here
