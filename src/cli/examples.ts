import type { Command } from 'commander';

/**
 * An example (or a few) for every command, by its path under `kaasctl`; `kaasctl <command> --help`
 * shows them. A test walks the command tree and fails on a command without description or example.
 */
export const EXAMPLES: Record<string, string[]> = {
  '': [
    'kaasctl login https://kaas.example.com',
    'kaasctl clusters create web --vpc prod --storage-pool fast --floating-ip 10.250.0.7 --wait',
    'kaasctl clusters kubeconfig web --merge --set-current',
  ],
  tenants: ['kaasctl tenants list', 'kaasctl tenants create acme'],
  'tenants create': ['kaasctl tenants create acme   # prints its first API key, once'],
  'tenants list': ['kaasctl tenants list', 'kaasctl tenants list -o wide'],
  'tenants show': ['kaasctl tenants show acme -o yaml'],
  'tenants quota': ['kaasctl tenants quota set acme --max-clusters 10 --max-nodes 60'],
  'tenants quota set': ['kaasctl tenants quota set acme --max-vcpus 256 --max-memory-mib 524288'],
  'api-keys': ['kaasctl --tenant acme api-keys create --description ci', 'kaasctl api-keys list'],
  'api-keys create': ['kaasctl api-keys create --description "ci pipeline"'],
  'api-keys list': ['kaasctl api-keys list', 'kaasctl --tenant acme api-keys list'],
  'api-keys revoke': ['kaasctl api-keys revoke 3f0c2a9e-0d1b-4c5e-8f7a-2b6d9e1c4a70'],
  'admin-tokens': ['kaasctl admin-tokens create --description "second operator"'],
  'admin-tokens create': ['kaasctl admin-tokens create --description "backup operator"'],
  'admin-tokens revoke': ['kaasctl admin-tokens revoke 8b2f6c1d-5e4a-4f3b-9c2d-1a0e7f6b5c4d'],
  hosts: ['kaasctl hosts list', 'kaasctl hosts add kvm-01 qemu+ssh://root@kvm-01/system'],
  'hosts add': [
    'kaasctl hosts add kvm-01 qemu+ssh://root@kvm-01/system --chassis rack-1',
    'kaasctl hosts add sim-a test:///default --domain-type qemu --cpus 32 --memory-mib 65536',
  ],
  'hosts list': ['kaasctl hosts list', 'kaasctl hosts list -o wide'],
  'hosts show': ['kaasctl hosts show kvm-01'],
  'hosts remove': ['kaasctl hosts remove kvm-01   # once it runs no node (hosts drain)'],
  'hosts drain': ['kaasctl hosts drain kvm-01   # its nodes are replaced on other hosts'],
  'hosts undrain': ['kaasctl hosts undrain kvm-01'],
  'hosts fault': ['kaasctl hosts fault sim-a crash 5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d'],
  images: ['kaasctl images list'],
  'images add': [
    'kaasctl images add bookworm --disk /var/lib/kaas/images/bookworm.qcow2 --default',
    'kaasctl images add tiny --kernel /srv/vmlinuz --initrd /srv/initrd.img',
  ],
  'images list': ['kaasctl images list -o wide'],
  health: ['kaasctl health run'],
  'health run': ['kaasctl health run -o json'],
  vpcs: ['kaasctl vpcs create prod --cidr 10.1.0.0/24', 'kaasctl vpcs list'],
  'vpcs create': ['kaasctl vpcs create prod --cidr 10.1.0.0/24'],
  'vpcs list': ['kaasctl vpcs list', 'kaasctl vpcs list -o wide'],
  'vpcs show': ['kaasctl vpcs show prod -o yaml'],
  'vpcs delete': ['kaasctl vpcs delete prod'],
  'floating-ips': ['kaasctl floating-ips create', 'kaasctl floating-ips list'],
  'floating-ips create': ['kaasctl floating-ips create -o name   # prints the address'],
  'floating-ips list': ['kaasctl floating-ips list'],
  'floating-ips show': ['kaasctl floating-ips show 10.250.0.7'],
  'floating-ips delete': ['kaasctl floating-ips delete 10.250.0.7'],
  'floating-ips associate': ['kaasctl floating-ips associate 10.250.0.7 --cluster web'],
  'floating-ips disassociate': ['kaasctl floating-ips disassociate 10.250.0.7'],
  'floating-ips add-range': [
    'kaasctl floating-ips add-range 10.250.0.0/24',
    'kaasctl floating-ips add-range 10.250.1.10 10.250.1.99',
  ],
  'floating-ips ranges': ['kaasctl floating-ips ranges'],
  'floating-ips remove-range': ['kaasctl floating-ips remove-range 6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d'],
  'storage-pools': ['kaasctl storage-pools create fast --capacity-gib 500', 'kaasctl storage-pools list'],
  'storage-pools create': ['kaasctl storage-pools create fast --capacity-gib 500'],
  'storage-pools list': ['kaasctl storage-pools list'],
  'storage-pools show': ['kaasctl storage-pools show fast'],
  'storage-pools delete': ['kaasctl storage-pools delete fast'],
  clusters: ['kaasctl clusters list --watch', 'kaasctl clusters create web --vpc prod --storage-pool fast --wait'],
  'clusters create': [
    'kaasctl clusters create web --vpc prod --storage-pool fast --floating-ip 10.250.0.7 --wait',
    'kaasctl clusters create big --masters 3 --pool general:5 --pool gpu:2:8:32768:100 --vpc prod \\',
    '    --storage-pool fast --floating-ip 10.250.0.8',
    'kaasctl clusters create again --restore-from 9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0 --vpc prod \\',
    '    --storage-pool fast --floating-ip 10.250.0.9 --wait=900',
  ],
  'clusters list': ['kaasctl clusters list', 'kaasctl clusters list -o wide --watch'],
  'clusters show': ['kaasctl clusters show web -o yaml', 'kaasctl clusters show web --watch'],
  'clusters delete': ['kaasctl clusters delete web --wait'],
  'clusters scale': ['kaasctl clusters scale web --workers 5 --wait', 'kaasctl clusters scale web --masters 3'],
  'clusters upgrade': ['kaasctl clusters versions web', 'kaasctl clusters upgrade web v3.5.16 --wait'],
  'clusters versions': ['kaasctl clusters versions web'],
  'clusters rotate-certificates': ['kaasctl clusters rotate-certificates web --wait'],
  'clusters pools': ['kaasctl clusters pools list web', 'kaasctl clusters pools scale web general 6 --wait'],
  'clusters pools list': ['kaasctl clusters pools list web'],
  'clusters pools show': ['kaasctl clusters pools show web gpu -o yaml'],
  'clusters pools add': [
    'kaasctl clusters pools add web gpu --count 2 --vcpus 8 --label accel=gpu --taint gpu=true:NoSchedule --wait',
    'kaasctl clusters pools add web batch --count 1 --autoscale 1:10:70',
  ],
  'clusters pools scale': ['kaasctl clusters pools scale web general 6 --wait'],
  'clusters pools set': [
    'kaasctl clusters pools set web gpu --label accel=gpu --label tier=2',
    'kaasctl clusters pools set web batch --no-autoscale',
  ],
  'clusters pools remove': ['kaasctl clusters pools remove web batch --wait'],
  'clusters backups': ['kaasctl clusters backups create web --wait', 'kaasctl clusters backups list web'],
  'clusters backups list': ['kaasctl clusters backups list web'],
  'clusters backups create': ['kaasctl clusters backups create web --wait'],
  'clusters backups show': ['kaasctl clusters backups show web 9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'],
  'clusters backups delete': ['kaasctl clusters backups delete web 9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'],
  'clusters backups schedule': [
    'kaasctl clusters backups schedule web --every 60 --keep 24',
    'kaasctl clusters backups schedule web --off',
    'kaasctl clusters backups schedule web   # shows it',
  ],
  'clusters nodes': ['kaasctl clusters nodes web -o wide', 'kaasctl clusters nodes web --watch'],
  'clusters events': ['kaasctl clusters events web', 'kaasctl clusters events web --watch'],
  'clusters replace-node': ['kaasctl clusters replace-node web 0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9 --wait'],
  'clusters pause': ['kaasctl clusters pause web   # no remediation during maintenance'],
  'clusters resume': ['kaasctl clusters resume web'],
  'clusters kubeconfig': [
    'kaasctl clusters kubeconfig web > web.kubeconfig',
    'kaasctl clusters kubeconfig web --merge --set-current && kubectl get nodes',
  ],
  'clusters credentials': [
    'kaasctl clusters credentials web && . ~/.config/kaas/clusters/<platform>-<tenant>-web/etcdctl.env',
    'kaasctl clusters credentials web --dir ./web-creds --ttl 3600',
  ],
  backups: ['kaasctl backups list', 'kaasctl backups show 9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'],
  'backups list': ['kaasctl backups list   # those of deleted clusters too'],
  'backups show': ['kaasctl backups show 9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0 -o yaml'],
  'backups delete': ['kaasctl backups delete 9f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'],
  audit: ['kaasctl audit --since 1h', 'kaasctl audit --outcome failure --limit 50 -o json'],
  admin: ['kaasctl admin rotate-secret-key'],
  'admin rotate-secret-key': ['kaasctl admin rotate-secret-key   # with the key file, a new key is made and used'],
  login: [
    'kaasctl login https://kaas.example.com            # asks for the token',
    'kaasctl login http://127.0.0.1:8080 --token-file .data/admin-token --name local',
    'kaasctl login https://kaas.example.com --tenant acme --name acme   # an operator acting for acme',
  ],
  config: ['kaasctl config get-contexts', 'kaasctl config use-context prod'],
  'config get-contexts': ['kaasctl config get-contexts'],
  'config use-context': ['kaasctl config use-context prod'],
  'config current-context': ['kaasctl config current-context'],
  'config set-context': ['kaasctl config set-context staging --server https://kaas.staging.example.com'],
  'config delete-context': ['kaasctl config delete-context staging'],
  'config view': ['kaasctl config view -o yaml'],
  completion: ['source <(kaasctl completion bash)'],
  version: ['kaasctl version'],
};

/** Every command of the tree by its path under the root (`''` for the root itself). */
export function commandPaths(root: Command): Map<string, Command> {
  const paths = new Map<string, Command>([['', root]]);
  const walk = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands) {
      const path = prefix ? `${prefix} ${sub.name()}` : sub.name();
      paths.set(path, sub);
      walk(sub, path);
    }
  };
  walk(root, '');
  return paths;
}

/** Adds each command's examples to its help (commands that already show their own keep them). */
export function addExamples(root: Command): void {
  for (const [path, cmd] of commandPaths(root)) {
    const lines = EXAMPLES[path];
    if (!lines || path === 'completion') continue;
    cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
}
