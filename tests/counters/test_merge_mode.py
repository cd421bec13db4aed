from django.utils import translation

from ordersync.counters.models import Counter


def test_merge_mode_labels_say_what_metrika_does_in_english():
    with translation.override("en"):
        assert [str(label) for _, label in Counter.MergeMode.choices] == [
            "Save: each order in the file replaces what Metrika stores for it; "
            "fields left out become empty",
            "Update: only the fields in the file change",
            "Append: list values are added to those Metrika stores",
        ]


def test_merge_mode_labels_are_translated_to_russian():
    with translation.override("ru"):
        assert [str(label) for _, label in Counter.MergeMode.choices] == [
            "Сохранение: каждый заказ из файла заменяет то, что Метрика хранит "
            "о нём; поля, которых нет в файле, станут пустыми",
            "Обновление: меняются только поля, которые есть в файле",
            "Дополнение: значения списков добавляются к тем, что хранит Метрика",
        ]
