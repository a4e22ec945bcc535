"""The evaluation harness: question sets, runs over configurations, metrics, judge, reports."""
