divert(-1)dnl
# STARTTLS for mail.example.org (edited by hand, see ticket #4711)
divert(0)dnl
define(`confDONT_BLAME_SENDMAIL',dnl
	defn(`confDONT_BLAME_SENDMAIL')`,GroupReadableKeyFile')dnl
define(`confTO_STARTTLS',     `2m')dnl
define(`confCACERT_PATH',     `/etc/ssl/certs')dnl
define(`confSERVER_CERT',     `/etc/mail/tls/mail.example.org.crt')dnl
define(`confSERVER_KEY',      `/etc/mail/tls/mail.example.org.key')dnl
define(`confCLIENT_CERT',     `/etc/mail/tls/mail.example.org.crt')dnl
define(`confCLIENT_KEY',      `/etc/mail/tls/mail.example.org.key')dnl
define(`confDH_PARAMETERS',   `/etc/mail/tls/sendmail-common.prm')dnl
define(`confCIPHER_LIST',     `HIGH:!aNULL:!MD5')dnl
define(`confSERVER_SSL_OPTIONS', `+SSL_OP_NO_SSLv3,+SSL_OP_NO_TLSv1')dnl
define(`confTLS_SRV_OPTIONS', `V')dnl
