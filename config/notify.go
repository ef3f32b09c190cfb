package config

// Notify configures the daemon's notifications (webhooks). Names are
// without the ROSTERSYNC_ prefix.
type Notify struct {
	// WebhooksFile lists the webhooks, one "FORMAT URL" a line (FORMAT is
	// json, slack or teams); their URLs are secrets, so they live in a
	// file. Default: $CREDENTIALS_DIRECTORY/notify-webhooks when it exists.
	WebhooksFile string `env:"NOTIFY_WEBHOOKS_FILE"`
	// SecretFile, when set, holds the key generic JSON posts are signed
	// with (X-Rostersync-Signature: sha256=HMAC).
	SecretFile string `env:"NOTIFY_SECRET_FILE"`
	// Link is put in notifications as where to act: the status page as
	// people reach it (https://rostersync.example.com/).
	Link string `env:"NOTIFY_LINK"`
}
