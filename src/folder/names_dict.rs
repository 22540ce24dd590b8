//! Well-known folder names in many languages: special folders (Sent, Drafts, Trash, Junk, Archive) to recognise by name when a server gives no SPECIAL-USE attribute, and Exchange's non-mail folders to leave out.
//!
//! Sources: imapsync's `build_possible_special` table, its FAQ.Gmail and
//! FAQ.Exchange, and the localized default folders of Exchange/Outlook and
//! Gmail. Matching ignores case and Unicode normalisation (NFC vs NFD), so
//! `Éléments envoyés` typed by a macOS client still matches; that is only
//! used to choose a role, never to change a name.

use super::name::fold_key;
use super::tree::SpecialUse;

/// Names of Sent folders.
pub const SENT: &[&str] = &[
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "Gesendet",
    "Gesendete Elemente",
    "Gesendete Objekte",
    "Gesendete Nachrichten",
    "Éléments envoyés",
    "Objets envoyés",
    "Messages envoyés",
    "Envoyés",
    "Envoyé",
    "Elementos enviados",
    "Enviados",
    "Itens Enviados",
    "Posta inviata",
    "Inviati",
    "Verzonden items",
    "Verzonden",
    "Skickat",
    "Skickade objekt",
    "Sendt",
    "Sendte elementer",
    "Lähetetyt",
    "Elementy wysłane",
    "Wysłane",
    "送信済みアイテム",
    "送信済みメール",
    "Отправленные",
    "已发送",
    "已發送",
];

/// Names of Drafts folders.
pub const DRAFTS: &[&str] = &[
    "Drafts",
    "Draft",
    "Entwürfe",
    "Brouillons",
    "Borradores",
    "Rascunhos",
    "Bozze",
    "Concepten",
    "Utkast",
    "Kladder",
    "Luonnokset",
    "Szkice",
    "Wersje robocze",
    "下書き",
    "Черновики",
    "草稿",
];

/// Names of Trash folders.
pub const TRASH: &[&str] = &[
    "Trash",
    "Deleted Items",
    "Deleted Messages",
    "Deleted",
    "Bin",
    "Gelöschte Elemente",
    "Gelöschte Objekte",
    "Papierkorb",
    "Éléments supprimés",
    "Corbeille",
    "Elementos eliminados",
    "Elementos borrados",
    "Papelera",
    "Itens Excluídos",
    "Lixeira",
    "Posta eliminata",
    "Cestino",
    "Verwijderde items",
    "Prullenbak",
    "Borttagna objekt",
    "Papperskorg",
    "Slettede elementer",
    "Poistetut",
    "Kosz",
    "Elementy usunięte",
    "削除済みアイテム",
    "ゴミ箱",
    "Удаленные",
    "Корзина",
];

/// Names of Junk folders.
pub const JUNK: &[&str] = &[
    "Junk",
    "Spam",
    "Junk E-mail",
    "Junk Email",
    "Junk Mail",
    "Bulk Mail",
    "Junk-E-Mail",
    "Spamverdacht",
    "Courrier indésirable",
    "Pourriel",
    "Correo no deseado",
    "Lixo Eletrônico",
    "Posta indesiderata",
    "Ongewenste e-mail",
    "Skräppost",
    "Uønsket e-post",
    "Roskaposti",
    "Wiadomości-śmieci",
    "Potwierdzony spam",
    "迷惑メール",
    "Спам",
    "Нежелательная почта",
];

/// Names of Archive folders.
pub const ARCHIVE: &[&str] = &[
    "Archive",
    "Archives",
    "Archiv",
    "Archivio",
    "Archivo",
    "Arquivo",
    "Archief",
    "Arkiv",
    "Arkisto",
    "Archiwum",
    "アーカイブ",
    "Архив",
];

/// The dictionary: each role with its names, in the order they are preferred.
pub const LOCALIZED_NAMES: &[(SpecialUse, &[&str])] = &[
    (SpecialUse::Sent, SENT),
    (SpecialUse::Drafts, DRAFTS),
    (SpecialUse::Trash, TRASH),
    (SpecialUse::Junk, JUNK),
    (SpecialUse::Archive, ARCHIVE),
];

/// The role a folder name stands for, and its rank in that role's list (lower is preferred).
pub fn localized_special_use(name: &str) -> Option<(SpecialUse, usize)> {
    let key = fold_key(name);
    LOCALIZED_NAMES.iter().find_map(|(role, names)| {
        names
            .iter()
            .position(|n| fold_key(n) == key)
            .map(|rank| (*role, rank))
    })
}

/// Exchange/Outlook folders that hold calendar items, contacts, tasks, notes or logs rather than mail.
pub const NON_MAIL: &[&str] = &[
    // English
    "Calendar",
    "Contacts",
    "Tasks",
    "Journal",
    "Notes",
    "Conversation History",
    "Conversation Action Settings",
    "Quick Step Settings",
    "RSS Feeds",
    "RSS Subscriptions",
    "Suggested Contacts",
    "Social Activity Notifications",
    "Yammer Root",
    "ExternalContacts",
    "PersonMetadata",
    // French
    "Calendrier",
    "Tâches",
    "Historique des conversations",
    "Flux RSS",
    // German
    "Kalender",
    "Kontakte",
    "Aufgaben",
    "Notizen",
    "Unterhaltungsverlauf",
    "RSS-Feeds",
    "RSS-Abonnements",
    // Spanish
    "Calendario",
    "Contactos",
    "Tareas",
    "Diario",
    "Notas",
    "Historial de conversaciones",
    "Fuentes RSS",
];

/// Exchange's "Sync Issues" folder (a log of sync conflicts) in several languages; its subfolders are logs too.
pub const SYNC_ISSUES: &[&str] = &[
    "Sync Issues",
    "Problèmes de synchronisation",
    "Synchronisierungsprobleme",
    "Problemas de sincronización",
];

/// Names that Microsoft 365 keeps for itself at the top level of a mailbox,
/// beyond the non-mail folders: mail put there would be hidden or refused.
pub const M365_RESERVED: &[&str] = &["Files", "Fichiers", "Dateien", "Archivos"];

fn in_list(list: &[&str], name: &str) -> bool {
    let key = fold_key(name);
    list.iter().any(|n| fold_key(n) == key)
}

/// Whether a top-level name is an Exchange non-mail folder (including Sync Issues).
pub fn is_non_mail(name: &str) -> bool {
    in_list(NON_MAIL, name) || in_list(SYNC_ISSUES, name)
}

/// Whether a top-level name is Exchange's Sync Issues folder.
pub fn is_sync_issues(name: &str) -> bool {
    in_list(SYNC_ISSUES, name)
}

/// Whether a top-level name is reserved on an Exchange/M365 destination.
pub fn is_m365_reserved(name: &str) -> bool {
    is_non_mail(name) || in_list(M365_RESERVED, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_names_in_any_case_and_normalisation() {
        assert_eq!(
            localized_special_use("Gesendete Elemente"),
            Some((SpecialUse::Sent, 5))
        );
        assert_eq!(
            localized_special_use("e\u{301}le\u{301}ments envoye\u{301}s").map(|r| r.0),
            Some(SpecialUse::Sent),
            "NFD spelling, lower case"
        );
        assert_eq!(
            localized_special_use("SPAM").map(|r| r.0),
            Some(SpecialUse::Junk)
        );
        assert_eq!(localized_special_use("Clients"), None);
    }

    #[test]
    fn no_name_has_two_roles_and_non_mail_is_not_special() {
        for (role, names) in LOCALIZED_NAMES {
            for n in *names {
                assert_eq!(
                    localized_special_use(n).map(|r| r.0),
                    Some(*role),
                    "{n} must belong to one role only"
                );
                assert!(!is_non_mail(n), "{n} is mail");
            }
        }
        assert!(is_non_mail("calendar"));
        assert!(is_sync_issues("Synchronisierungsprobleme"));
        assert!(is_m365_reserved("files"));
        assert!(
            !is_m365_reserved("Outbox"),
            "Outbox holds mail and is copied"
        );
    }
}
