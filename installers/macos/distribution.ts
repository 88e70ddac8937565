/**
 * The two XML documents of a flat product archive: PackageInfo (the component package:
 * identity, version, install location, payload size, scripts) and Distribution (what
 * Installer.app and `installer` show and check: OS version, architectures, the one choice).
 */
import { xmlEscape } from '../files.js';
import { PKG_IDENTIFIER } from './scripts.js';

/** The component package's folder name inside the product archive. */
export const COMPONENT = 'consultguard-agent.pkg';
/** node 22 supports macOS 11 and later. */
const MIN_MACOS = '11.0';

export interface PayloadSummary {
  numberOfFiles: number;
  installKBytes: number;
}

export function packageInfo(version: string, payload: PayloadSummary): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<pkg-info format-version="2" identifier="${PKG_IDENTIFIER}" version="${xmlEscape(version)}" install-location="/" auth="root" relocatable="false" postinstall-action="none">
    <payload numberOfFiles="${payload.numberOfFiles}" installKBytes="${payload.installKBytes}"/>
    <bundle-version/>
    <scripts>
        <preinstall file="./preinstall"/>
        <postinstall file="./postinstall"/>
    </scripts>
</pkg-info>
`;
}

export function distribution(version: string, payload: PayloadSummary): string {
  const v = xmlEscape(version);
  return `<?xml version="1.0" encoding="utf-8"?>
<installer-gui-script minSpecVersion="2">
    <title>ConsultGuard Agent ${v}</title>
    <options customize="never" require-scripts="true" rootVolumeOnly="true" hostArchitectures="arm64,x86_64"/>
    <domains enable_anywhere="false" enable_currentUserHome="false" enable_localSystem="true"/>
    <volume-check>
        <allowed-os-versions>
            <os-version min="${MIN_MACOS}"/>
        </allowed-os-versions>
    </volume-check>
    <choices-outline>
        <line choice="default">
            <line choice="${PKG_IDENTIFIER}"/>
        </line>
    </choices-outline>
    <choice id="default"/>
    <choice id="${PKG_IDENTIFIER}" visible="false">
        <pkg-ref id="${PKG_IDENTIFIER}"/>
    </choice>
    <pkg-ref id="${PKG_IDENTIFIER}" version="${v}" onConclusion="none" installKBytes="${payload.installKBytes}">#${COMPONENT}</pkg-ref>
</installer-gui-script>
`;
}
