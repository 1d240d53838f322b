package main

// The messages of madoguchi doctor in English and Japanese. A finding's
// message is doctorMessages[key]; what to do about it is key+".fix". Both
// languages use the same %[n]v arguments (TestDoctorMessages). Error texts
// passed as arguments come from the packages and stay in English.

import (
	"fmt"
	"strings"
)

type doctorMsg struct{ en, ja string }

var doctorMessages = map[string]doctorMsg{
	"summary": {"%[1]d ok, %[2]d warnings, %[3]d failures, %[4]d skipped",
		"正常 %[1]d 件、警告 %[2]d 件、異常 %[3]d 件、対象外 %[4]d 件"},

	"data.ok":             {"data directory %[1]v is owner-only", "データディレクトリ %[1]v は所有者のみアクセス可能です"},
	"data.missing":        {"data directory %[1]v does not exist", "データディレクトリ %[1]v がありません"},
	"data.missing.fix":    {"check --data / MADOGUCHI_DATA; a new deployment runs 'madoguchi migrate' first", "--data / MADOGUCHI_DATA を確認してください。新規環境では先に 'madoguchi migrate' を実行します"},
	"data.unreadable":     {"data directory %[1]v cannot be read: %[2]v", "データディレクトリ %[1]v を読めません: %[2]v"},
	"data.unreadable.fix": {"run doctor as the service user, and check the directory's owner", "サービス実行ユーザーで doctor を実行し、ディレクトリの所有者を確認してください"},
	"data.notdir":         {"%[1]v is not a directory", "%[1]v はディレクトリではありません"},
	"data.notdir.fix":     {"point --data at a directory", "--data にはディレクトリを指定してください"},
	"data.perm":           {"data directory %[1]v has permissions %[2]v: others may list it", "データディレクトリ %[1]v の権限が %[2]v です（他者が一覧できます）"},
	"data.perm.fix":       {"chmod 700 %[1]v", "chmod 700 %[1]v を実行してください"},

	"keys.dirperm":                 {"key directory %[1]v has permissions %[2]v", "鍵ディレクトリ %[1]v の権限が %[2]v です"},
	"keys.dirperm.fix":             {"chmod 700 %[1]v", "chmod 700 %[1]v を実行してください"},
	"keys.perm":                    {"key file %[1]v has permissions %[2]v: group or others may read it, and the server refuses it", "鍵ファイル %[1]v の権限が %[2]v です。グループや他者が読めるため、サーバーは起動を拒否します"},
	"keys.perm.fix":                {"chmod 600 %[1]v (and rotate the key if others may have read it)", "chmod 600 %[1]v を実行してください（他者に読まれた可能性があれば鍵を更新してください）"},
	"keys.ok":                      {"%[1]v present, owner-only, loads", "%[1]v は存在し、所有者のみ読み取り可能で、読み込めます"},
	"keys.optional":                {"%[1]v is missing: offline face credentials are disabled", "%[1]v がありません。オフライン顔認証クレデンシャルは無効です"},
	"keys.optional.fix":            {"provision the credential issuer key if the branch verifier is used", "窓口検証端末を使う場合はクレデンシャル発行鍵を配置してください"},
	"keys.missing.development":     {"%[1]v is missing; a development server generates it at start", "%[1]v がありません。開発モードのサーバーは起動時に生成します"},
	"keys.missing.development.fix": {"start 'madoguchi serve' once, or provision the key as in production", "一度 'madoguchi serve' を起動するか、本番と同様に鍵を配置してください"},
	"keys.missing.production":      {"%[1]v is missing: a production server refuses to start", "%[1]v がありません。本番モードのサーバーは起動しません"},
	"keys.missing.production.fix":  {"provision the key (docs/key-rotation.md) with mode 0600, owned by the service user", "鍵を配置してください（docs/key-rotation.md）。権限 0600、所有者はサービス実行ユーザーです"},
	"keys.bad":                     {"%[1]v does not load: %[2]v", "%[1]v を読み込めません: %[2]v"},
	"keys.bad.fix":                 {"restore the file from the key backup", "鍵のバックアップからファイルを復元してください"},
	"keys.hsm.ok":                  {"%[1]v opens in the HSM (ES256, kid %[2]v)", "%[1]v は HSM の中で開けます(ES256、kid %[2]v)"},
	"keys.hsm.bad":                 {"%[1]v does not open: %[2]v", "%[1]v を開けません: %[2]v"},
	"keys.hsm.bad.fix":             {"check the module path, token label, PIN file and key label (docs/operations.md#hsm)", "モジュールのパス、トークンのラベル、PIN ファイル、鍵のラベルを確認してください(docs/operations.ja.md#hsm)"},

	"kek.kms":      {"transit KMS %[1]v: %[2]v", "鍵管理サービス（transit KMS）%[1]v: %[2]v"},
	"kek.kms.fix":  {"check --kms-address, --kms-mount, --kms-key and MADOGUCHI_KMS_TOKEN, and that the KMS is unsealed", "--kms-address、--kms-mount、--kms-key と MADOGUCHI_KMS_TOKEN、および KMS が unseal されていることを確認してください"},
	"kek.nofile":   {"no key-encryption key file %[1]v to test (see keys.files)", "鍵暗号化鍵ファイル %[1]v がないため検査できません（keys.files を参照）"},
	"kek.file":     {"key-encryption key file %[1]v: %[2]v", "鍵暗号化鍵ファイル %[1]v: %[2]v"},
	"kek.file.fix": {"restore kek.json from the key backup", "kek.json を鍵のバックアップから復元してください"},
	"kek.wrap":     {"wrapping and unwrapping a test key with %[1]v failed: %[2]v", "%[1]v によるテスト鍵のラップ・アンラップに失敗しました: %[2]v"},
	"kek.wrap.fix": {"check the KMS key's policy (encrypt and decrypt allowed) or restore kek.json", "KMS 鍵のポリシー（暗号化・復号の許可）を確認するか、kek.json を復元してください"},
	"kek.ok":       {"a test key wraps and unwraps with %[1]v", "%[1]v でテスト鍵をラップ・アンラップできます"},

	"store.nofile":          {"database %[1]v does not exist", "データベース %[1]v がありません"},
	"store.nofile.fix":      {"run 'madoguchi migrate' to create it, or check --db / MADOGUCHI_DB", "'madoguchi migrate' で作成するか、--db / MADOGUCHI_DB を確認してください"},
	"store.unreachable":     {"database %[1]v is not reachable: %[2]v", "データベース %[1]v に接続できません: %[2]v"},
	"store.unreachable.fix": {"check that PostgreSQL runs, the URL in --db / MADOGUCHI_DB, the network and the credentials", "PostgreSQL の稼働、--db / MADOGUCHI_DB の URL、ネットワーク、認証情報を確認してください"},
	"store.ok":              {"database %[1]v is reachable", "データベース %[1]v に接続できます"},

	"schema.skip":       {"schema not checked: the database did not open", "データベースを開けないためスキーマは未確認です"},
	"schema.new":        {"the database schema is newer than this binary: %[1]v", "データベースのスキーマがこのバイナリより新しいです: %[1]v"},
	"schema.new.fix":    {"run the madoguchi version that migrated this database (or newer)", "このデータベースを移行したバージョン以降の madoguchi を使ってください"},
	"schema.behind":     {"%[1]v migrations are pending (latest %[2]v)", "未適用のマイグレーションが %[1]v 件あります（最新 %[2]v）"},
	"schema.behind.fix": {"back up the database, then run 'madoguchi migrate' (or start serve with --migrate auto)", "データベースをバックアップしてから 'madoguchi migrate' を実行してください（または serve を --migrate auto で起動）"},
	"schema.err":        {"schema status: %[1]v", "スキーマ状態を確認できません: %[1]v"},
	"schema.err.fix":    {"check the database's schema_migrations table", "データベースの schema_migrations テーブルを確認してください"},
	"schema.ok":         {"schema is current (version %[1]v)", "スキーマは最新です（バージョン %[1]v）"},

	"blobs.missing":     {"blob folder %[1]v does not exist", "ブロブ保存フォルダ %[1]v がありません"},
	"blobs.missing.fix": {"create it (mode 0700, owned by the service user) or check --blobs / MADOGUCHI_BLOBS", "作成してください（権限 0700、所有者はサービス実行ユーザー）。または --blobs / MADOGUCHI_BLOBS を確認してください"},
	"blobs.notdir":      {"blob store %[1]v is not a folder", "ブロブ保存先 %[1]v はフォルダではありません"},
	"blobs.notdir.fix":  {"point --blobs at a folder or an S3 bucket URL", "--blobs にはフォルダか S3 バケットの URL を指定してください"},
	"blobs.config":      {"blob store setting: %[1]v", "ブロブ保存先の設定: %[1]v"},
	"blobs.config.fix":  {"fix --blobs / MADOGUCHI_BLOBS and the MADOGUCHI_S3_* variables", "--blobs / MADOGUCHI_BLOBS と MADOGUCHI_S3_* 環境変数を修正してください"},
	"blobs.bad":         {"blob store %[1]v is not writable and readable: %[2]v", "ブロブ保存先 %[1]v に書き込み・読み出しできません: %[2]v"},
	"blobs.bad.fix":     {"check the folder's owner and free space, or the bucket, its policy and the access key", "フォルダの所有者と空き容量、またはバケット、そのポリシー、アクセスキーを確認してください"},
	"blobs.ok":          {"blob store %[1]v: a test object was written, read back and deleted", "ブロブ保存先 %[1]v: テストオブジェクトの書き込み・読み出し・削除ができました"},

	"clock.skew":     {"local clock differs from %[1]v by %[2]v", "ローカル時計と %[1]v の差が %[2]v あります"},
	"clock.skew.fix": {"synchronise the clock (chrony or systemd-timesyncd); tokens, signatures and audit times depend on it", "時刻を同期してください（chrony や systemd-timesyncd）。トークン、署名、監査記録の時刻が依存します"},
	"clock.ok":       {"local clock agrees with %[1]v (difference %[2]v)", "ローカル時計は %[1]v と一致しています（差 %[2]v）"},
	"clock.err":      {"cannot read the clock of %[1]v: %[2]v", "%[1]v の時刻を取得できません: %[2]v"},
	"clock.err.fix":  {"check the address given to --clock-url", "--clock-url の指定を確認してください"},
	"clock.skip":     {"no reference clock (SQLite and no --clock-url); check NTP with 'timedatectl' or 'chronyc tracking'", "参照する時計がありません（SQLite で --clock-url なし）。'timedatectl' や 'chronyc tracking' で NTP を確認してください"},

	"tls.none":        {"no TLS certificate configured: the server speaks plain HTTP", "TLS 証明書が設定されていません。サーバーは平文の HTTP で応答します"},
	"tls.none.fix":    {"terminate TLS in a proxy in front of madoguchi (pass client certificates through for mTLS clients), or set --tls-cert and --tls-key", "前段のプロキシで TLS を終端する（mTLS クライアントの証明書は転送）か、--tls-cert と --tls-key を指定してください"},
	"tls.skip":        {"no TLS certificate configured (development)", "TLS 証明書は未設定です（開発モード）"},
	"tls.load":        {"TLS key pair %[1]v does not load: %[2]v", "TLS 鍵ペア %[1]v を読み込めません: %[2]v"},
	"tls.load.fix":    {"check that --tls-cert is a PEM chain and --tls-key its private key", "--tls-cert が PEM の証明書チェーンで、--tls-key がその秘密鍵であることを確認してください"},
	"tls.notyet":      {"TLS certificate %[1]v is not valid before %[2]v", "TLS 証明書 %[1]v は %[2]v まで有効になりません"},
	"tls.notyet.fix":  {"check the clock, or install a certificate valid now", "時計を確認するか、現在有効な証明書を配置してください"},
	"tls.expired":     {"TLS certificate %[1]v expired on %[2]v", "TLS 証明書 %[1]v は %[2]v に期限切れになりました"},
	"tls.expired.fix": {"renew the certificate and restart the server", "証明書を更新してサーバーを再起動してください"},
	"tls.soon":        {"TLS certificate %[1]v expires on %[2]v (in %[3]v days)", "TLS 証明書 %[1]v は %[2]v に期限切れになります（残り %[3]v 日）"},
	"tls.soon.fix":    {"renew the certificate before it expires", "期限切れになる前に証明書を更新してください"},
	"tls.ok":          {"TLS certificate %[1]v valid until %[2]v", "TLS 証明書 %[1]v は %[2]v まで有効です"},

	"anchors.load":         {"trust anchors in %[1]v do not load: %[2]v", "%[1]v のトラストアンカーを読み込めません: %[2]v"},
	"anchors.load.fix":     {"remove or replace the file named in the error; a partial trust configuration is refused", "エラーにあるファイルを削除または差し替えてください。不完全なトラスト設定は拒否されます"},
	"anchors.test":         {"TEST trust anchors in %[1]v: a production server refuses to start: %[2]v", "%[1]v にテスト用トラストアンカーがあります。本番モードのサーバーは起動しません: %[2]v"},
	"anchors.test.fix":     {"remove the test anchors (trust/icao/test, dev issuers) from the production data directory", "本番データディレクトリからテスト用アンカー（trust/icao/test、開発用発行者）を削除してください"},
	"anchors.kind":         {"%[1]v chips: trust anchors configured", "%[1]v の IC チップ: トラストアンカー設定済み"},
	"anchors.disabled":     {"%[1]v chips are disabled: no trust anchor in %[2]v", "%[1]v の IC チップは無効です: %[2]v にトラストアンカーがありません"},
	"anchors.disabled.fix": {"import the issuer's anchors if this document kind should be accepted (docs/trust-anchors.md)", "この種類の本人確認書類を受け付ける場合は発行者のアンカーを取り込んでください（docs/trust-anchors.md）"},
	"anchors.none":         {"no trust anchors in %[1]v: every chip read (method he) is refused", "%[1]v にトラストアンカーがありません。IC チップ読取り（ヘ方式）はすべて拒否されます"},
	"anchors.none.fix":     {"import anchors: 'madoguchi trust import' (ICAO) and the PEM folders for Japanese cards (docs/trust-anchors.md)", "アンカーを取り込んでください: 'madoguchi trust import'（ICAO）と国内カード用 PEM フォルダ（docs/trust-anchors.md）"},

	"fresh.noicao":        {"no ICAO anchors: no CRLs or master lists to check", "ICAO アンカーがないため、CRL とマスターリストは確認対象外です"},
	"fresh.nothing":       {"no ICAO CRLs imported and no production CSCAs: nothing to age-check", "ICAO の CRL も本番 CSCA もないため、鮮度の確認対象はありません"},
	"fresh.crlnonext":     {"CRL of %[1]v has no nextUpdate", "%[1]v の CRL に nextUpdate がありません"},
	"fresh.crlnonext.fix": {"import a CRL with a nextUpdate ('madoguchi trust crl')", "nextUpdate を含む CRL を取り込んでください（'madoguchi trust crl'）"},
	"fresh.crlstale":      {"CRL of %[1]v is stale: its nextUpdate %[2]v has passed", "%[1]v の CRL は期限切れです: nextUpdate %[2]v を過ぎています"},
	"fresh.crlstale.fix":  {"download the current CRL from the issuer (ICAO PKD) and run 'madoguchi trust crl FILE'", "発行者（ICAO PKD）から最新の CRL を取得し、'madoguchi trust crl FILE' を実行してください"},
	"fresh.crlsoon":       {"CRL of %[1]v is due for renewal at %[2]v", "%[1]v の CRL は %[2]v に更新期限を迎えます"},
	"fresh.crlsoon.fix":   {"import the next CRL before %[2]v", "%[2]v までに次の CRL を取り込んでください"},
	"fresh.crlok":         {"CRL of %[1]v current until %[2]v", "%[1]v の CRL は %[2]v まで有効です"},
	"fresh.nocrl":         {"%[1]v of %[2]v production CSCAs have no CRL: revoked document signers are not detected", "本番 CSCA %[2]v 件のうち %[1]v 件に CRL がありません。失効した文書署名者を検出できません"},
	"fresh.nocrl.fix":     {"import the CSCAs' CRLs ('madoguchi trust crl')", "CSCA の CRL を取り込んでください（'madoguchi trust crl'）"},
	"fresh.mlold":         {"the newest master list import is from %[1]v (%[2]v days ago)", "最新のマスターリスト取込みは %[1]v です（%[2]v 日前）"},
	"fresh.mlold.fix":     {"import the current master list ('madoguchi trust import --masterlist')", "最新のマスターリストを取り込んでください（'madoguchi trust import --masterlist'）"},
	"fresh.mlok":          {"newest master list import: %[1]v", "最新のマスターリスト取込み: %[1]v"},

	"jpki.anchors":     {"JPKI anchors: %[1]v", "公的個人認証（JPKI）のアンカー: %[1]v"},
	"jpki.anchors.fix": {"fix or remove the files in <data>/trust/jpki-dev", "<data>/trust/jpki-dev のファイルを修正または削除してください"},
	"jpki.none":        {"no JPKI revocation source: method wa (公的個人認証) is disabled", "JPKI の失効情報源がありません。ワ方式（公的個人認証）は無効です"},
	"jpki.none.fix":    {"import the CRLs into %[1]v or write the OCSP responder URL to %[2]v (docs/jpki-revocation.md)", "CRL を %[1]v に取り込むか、OCSP レスポンダーの URL を %[2]v に記入してください（docs/jpki-revocation.md）"},
	"jpki.bad":         {"JPKI revocation configuration: %[1]v", "JPKI 失効確認の設定: %[1]v"},
	"jpki.bad.fix":     {"fix the file named in the error (docs/jpki-revocation.md)", "エラーにあるファイルを修正してください（docs/jpki-revocation.md）"},
	"jpki.ocsp":        {"JPKI revocation by OCSP", "JPKI の失効確認は OCSP で行います"},
	"jpki.stale":       {"a JPKI CRL is stale (nextUpdate %[1]v): method wa answers 'unavailable'", "JPKI の CRL が期限切れです（nextUpdate %[1]v）。ワ方式は利用不可になります"},
	"jpki.stale.fix":   {"import the current CRLs into %[2]v (no restart needed)", "最新の CRL を %[2]v に取り込んでください（再起動は不要です）"},
	"jpki.soon":        {"a JPKI CRL is due for renewal at %[1]v", "JPKI の CRL は %[1]v に更新期限を迎えます"},
	"jpki.soon.fix":    {"import the next CRLs into %[2]v before then", "それまでに次の CRL を %[2]v に取り込んでください"},
	"jpki.ok":          {"%[1]v JPKI CRLs, current until %[2]v", "JPKI の CRL %[1]v 件、%[2]v まで有効です"},
	"jpki.older":       {"ignored, a newer CRL of the same issuer is used: %[1]v", "同じ発行者のより新しい CRL を使うため、無視しました: %[1]v"},
	"jpki.older.fix":   {"remove the older file from %[2]v (or put the current CRL there if this one was meant to be current)", "%[2]v から古いファイルを削除してください（最新のつもりで置いた場合は、最新の CRL を取り込んでください）"},

	"models.bad":     {"face models in %[1]v: %[2]v", "%[1]v の顔認識モデル: %[2]v"},
	"models.bad.fix": {"run 'madoguchi models install' (it verifies every file against the pinned digests)", "'madoguchi models install' を実行してください（固定されたダイジェストで全ファイルを検証します）"},
	"models.ok":      {"face models in %[1]v installed and verified", "%[1]v の顔認識モデルはインストール済みで検証できました"},

	"cal.missing":      {"no face calibration %[1]v: every face match is referred to staff (目視審査)", "顔照合のキャリブレーション %[1]v がありません。すべての顔照合が目視審査に回ります"},
	"cal.missing.fix":  {"run 'madoguchi face calibrate' on your own consented faces (docs/face-accuracy.md)", "同意を得た自社の顔画像で 'madoguchi face calibrate' を実行してください（docs/face-accuracy.md）"},
	"cal.bad":          {"face calibration %[1]v: %[2]v", "顔照合のキャリブレーション %[1]v: %[2]v"},
	"cal.bad.fix":      {"recreate it with 'madoguchi face calibrate'", "'madoguchi face calibrate' で作り直してください"},
	"cal.nomodels":     {"calibration %[1]v (model %[2]v) not compared: the models did not verify", "モデルが検証できないため、キャリブレーション %[1]v（モデル %[2]v）は照合していません"},
	"cal.mismatch":     {"calibration %[1]v was made for model %[2]v, but the installed model is %[3]v: the server will not load the face engine", "キャリブレーション %[1]v はモデル %[2]v 用ですが、インストール済みのモデルは %[3]v です。顔認識エンジンを読み込めません"},
	"cal.mismatch.fix": {"calibrate again with the installed model ('madoguchi face calibrate')", "インストール済みのモデルで再度キャリブレーションしてください（'madoguchi face calibrate'）"},
	"cal.ok":           {"calibration for %[1]v: FMR %[2]v at threshold %[3]v (made %[4]v)", "%[1]v 用キャリブレーション: 閾値 %[3]v で FMR %[2]v（作成日 %[4]v）"},

	"policy.nodb":       {"tenant policies not checked: the database did not open", "データベースを開けないため、テナントのポリシーは未確認です"},
	"policy.list":       {"tenants cannot be listed: %[1]v", "テナント一覧を取得できません: %[1]v"},
	"policy.list.fix":   {"check the database (store.schema)", "データベースを確認してください（store.schema）"},
	"policy.notenants":  {"no tenants yet", "テナントはまだありません"},
	"policy.none":       {"tenant %[1]v has no eKYC policy: it cannot open sessions", "テナント %[1]v には eKYC ポリシーがありません。セッションを開始できません"},
	"policy.none.fix":   {"madoguchi ekyc policy set --tenant %[2]v --file POLICY.json --as ADMIN", "madoguchi ekyc policy set --tenant %[2]v --file POLICY.json --as ADMIN を実行してください"},
	"policy.bad":        {"tenant %[1]v's stored eKYC policy is invalid: %[3]v", "テナント %[1]v の保存済み eKYC ポリシーが不正です: %[3]v"},
	"policy.bad.fix":    {"store a valid policy: madoguchi ekyc policy set --tenant %[2]v --file POLICY.json --as ADMIN", "正しいポリシーを保存してください: madoguchi ekyc policy set --tenant %[2]v --file POLICY.json --as ADMIN"},
	"policy.weaker":     {"tenant %[1]v asks for FMR %[2]v but the face engine is calibrated at FMR %[3]v: every face match is referred", "テナント %[1]v は FMR %[2]v を求めていますが、顔認識エンジンのキャリブレーションは FMR %[3]v です。すべての顔照合が目視審査に回ります"},
	"policy.weaker.fix": {"calibrate at the policy's FMR or relax the policy's face_match.target_fmr (dual control)", "ポリシーの FMR でキャリブレーションするか、face_match.target_fmr を見直してください（二者承認）"},
	"policy.ok":         {"tenant %[1]v: eKYC policy version %[2]v valid (methods %[3]v)", "テナント %[1]v: eKYC ポリシー（バージョン %[2]v）は有効です（方式 %[3]v）"},

	"hooks.nodb":            {"webhooks not checked: the database did not open", "データベースを開けないため、Webhook は未確認です"},
	"hooks.list":            {"webhook outbox cannot be read: %[1]v", "Webhook の送信キューを読めません: %[1]v"},
	"hooks.none":            {"no webhooks in the last 30 days", "過去 30 日間の Webhook はありません"},
	"hooks.more":            {"%[1]v more receivers not probed", "他に %[1]v 件の受信先は確認していません"},
	"hooks.unreachable":     {"webhook receiver %[1]v is not reachable: %[2]v", "Webhook 受信先 %[1]v に接続できません: %[2]v"},
	"hooks.unreachable.fix": {"ask the tenant to check the receiver; check egress firewall rules and DNS", "テナントに受信先の確認を依頼し、送信側ファイアウォールと DNS を確認してください"},
	"hooks.dead":            {"webhook receiver %[1]v is reachable, but %[2]v deliveries are dead (%[3]v pending)", "Webhook 受信先 %[1]v には接続できますが、配信失敗（dead）が %[2]v 件あります（保留 %[3]v 件）"},
	"hooks.dead.fix":        {"see 'madoguchi notify list --state dead' and replay once the receiver is fixed", "'madoguchi notify list --state dead' で確認し、受信先の修正後に再送してください"},
	"hooks.ok":              {"webhook receiver %[1]v reachable (%[2]v delivered, %[3]v pending)", "Webhook 受信先 %[1]v に接続できます（配信済み %[2]v 件、保留 %[3]v 件）"},

	"prod.dev":            {"development mode: production refusals not checked (run with --mode production before going live)", "開発モードのため本番時の拒否条件は確認していません（本番前に --mode production で実行してください）"},
	"prod.devdir":         {"%[1]v exists: this data directory was initialised with development keys, and a production server refuses it", "%[1]v があります。このデータディレクトリは開発用の鍵で初期化されており、本番モードのサーバーは拒否します"},
	"prod.devdir.fix":     {"use a fresh data directory with provisioned keys", "鍵を配置した新しいデータディレクトリを使ってください"},
	"prod.devissuers":     {"development test issuers' keys in %[1]v", "%[1]v に開発用テスト発行者の鍵があります"},
	"prod.devissuers.fix": {"delete %[1]v from the production data directory", "本番データディレクトリから %[1]v を削除してください"},
	"prod.jpkidev":        {"TEST JPKI roots in %[1]v (a production server ignores them)", "%[1]v にテスト用 JPKI ルートがあります（本番モードのサーバーは無視します）"},
	"prod.jpkidev.fix":    {"delete %[1]v", "%[1]v を削除してください"},
	"prod.plain":          {"%[1]v uses plain http", "%[1]v が平文の http です"},
	"prod.plain.fix":      {"use an https address for %[1]v", "%[1]v には https のアドレスを指定してください"},
	"prod.ok":             {"no production refusals found", "本番モードで拒否される設定はありません"},
}

// doctorText formats key's message in lang ("ja" or "en").
func doctorText(lang, key string, args ...any) string {
	m, found := doctorMessages[key]
	if !found {
		return "[missing message " + key + "]"
	}
	return doctorFormat(m, lang, args)
}

// doctorFix formats key's fix, or "" when it has none.
func doctorFix(lang, key string, args ...any) string {
	m, found := doctorMessages[key+".fix"]
	if !found {
		return ""
	}
	return doctorFormat(m, lang, args)
}

func doctorFormat(m doctorMsg, lang string, args []any) string {
	f := m.en
	if lang == "ja" {
		f = m.ja
	}
	s := fmt.Sprintf(f, args...)
	// A fix uses fewer arguments than its message: drop Sprintf's note
	// about the unused ones.
	if i := strings.Index(s, "%!(EXTRA"); i >= 0 {
		s = s[:i]
	}
	return s
}
