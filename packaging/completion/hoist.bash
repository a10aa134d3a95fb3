# bash completion for hoist. Generated from the commander definitions by `node scripts/docs.ts`; do not edit.
_hoist() {
  local cur prev opts="" files=0
  cur="${COMP_WORDS[COMP_CWORD]}"
  prev="${COMP_WORDS[COMP_CWORD-1]}"
  local commands="keygen pack sign verify agent status publish approve pin unpin rollback trust dashboard history audit rollout renew promote"
  if [[ ${COMP_CWORD} -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "${commands} --help --version" -- "${cur}") )
    return 0
  fi
  case "${prev}" in
    --add-to|--artifact|--config|--envelope|--key|--out|--trust|-c|-k|-o|-t)
      COMPREPLY=( $(compgen -f -- "${cur}") )
      return 0 ;;
    --app|--bucket|--by|--ci-run|--commit|--concurrency|--endpoint|--endpoint-s3|--endpoint-sns|--endpoint-sqs|--env|--expect-version|--expires|--forget-after|--format|--from|--hosts|--kind|--listen|--max-failures|--min-age|--min-healthy|--notify-sns|--notify-sqs|--out|--poll-interval|--prefix|--reason|--refresh|--region|--rollout|--since|--stale-after|--start-at|--steps|--to|--to-bucket|--version|--within|-o)
      COMPREPLY=()
      return 0 ;;
  esac
  case "${COMP_WORDS[1]}" in
    keygen) opts="-o --out -f --force --json --help"; ;;
    pack) opts="-o --out --zstd --json --help"; files=1; ;;
    sign) opts="-k --key --allow-loose-key --add-to -o --out --help"; files=1; ;;
    verify) opts="-t --trust --app --env --kind --help"; files=1; ;;
    agent) opts="-c --config --once --help"; ;;
    status) opts="--local -c --config --json --app --env --bucket --prefix --stale-after --forget-after --wait --poll-interval --concurrency --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --help"; ;;
    publish) opts="--app --env --version --artifact -k --key --allow-loose-key --trust --expires --commit --ci-run --by --retry-failed --rollout --steps --start-at --max-failures --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; ;;
    approve) opts="--app --env -k --key --allow-loose-key --trust --expect-version --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; ;;
    pin) opts="--version --reason --retry-failed --app --env -k --key --allow-loose-key --trust --hosts --expires --by --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; ;;
    unpin) opts="--reason --app --env -k --key --allow-loose-key --trust --hosts --expires --by --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; ;;
    rollback) opts="--app --env -k --key --allow-loose-key --to --trust --expires --by --retry-failed --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; ;;
    trust)
      if [[ ${COMP_CWORD} -eq 2 ]]; then COMPREPLY=( $(compgen -W "publish show --help" -- "${cur}") ); return 0; fi
      case "${COMP_WORDS[2]}" in
        publish) opts="-k --key --allow-loose-key --expires --envelope --dry-run -o --out --trust --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; files=1; ;;
        show) opts="-t --trust --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --json --help"; ;;
      esac ;;
    dashboard) opts="--listen --token --trust --refresh --stale-after --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --help"; ;;
    history) opts="--app --env --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --trust --json --help"; ;;
    audit) opts="--app --env --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --trust --since --format --json --help"; ;;
    rollout)
      if [[ ${COMP_CWORD} -eq 2 ]]; then COMPREPLY=( $(compgen -W "status --help" -- "${cur}") ); return 0; fi
      case "${COMP_WORDS[2]}" in
        status) opts="--app --env --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --trust --json --help"; ;;
      esac ;;
    renew) opts="--app --env -k --key --allow-loose-key --trust --expires --within --by --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; ;;
    promote) opts="--app --from --to -k --key --allow-loose-key --trust --min-healthy --min-age --to-bucket --expires --by --retry-failed --rollout --steps --start-at --max-failures --bucket --prefix --region --endpoint --endpoint-s3 --endpoint-sqs --endpoint-sns --notify-sqs --notify-sns --json --help"; ;;
  esac
  if [[ "${cur}" == -* || ${files} -eq 0 ]]; then
    COMPREPLY=( $(compgen -W "${opts}" -- "${cur}") )
  else
    COMPREPLY=( $(compgen -f -- "${cur}") )
  fi
  return 0
}
complete -F _hoist hoist
